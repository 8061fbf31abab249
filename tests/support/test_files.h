/*  test_files — whole-file helpers for tests that damage or compare files
    on disk. Each fails the running cmocka test on an I/O error.
*/
#ifndef TEST_FILES_H_INCLUDED
#define TEST_FILES_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Size of the file at path.
uint64_t test_files_size (const char *path);

//  Flips some bits of the byte at offset of the file at path (flipping it
//  again restores it).
void test_files_flip_byte (const char *path, uint64_t offset);

//  The whole file at path (malloc'd, caller frees) and its size.
uint8_t *test_files_read (const char *path, size_t *size);

//  Replaces the file at path by size bytes of data.
void test_files_write (const char *path, const void *data, size_t size);

//  Fails unless the files at one and other hold the same bytes.
void test_files_expect_same (const char *one, const char *other);

#endif
