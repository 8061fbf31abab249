/*  test_files — whole-file helpers for tests. See test_files.h.  */
#include "test_files.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t
test_files_size (const char *path)
{
    struct stat status;
    assert_int_equal (stat (path, &status), 0);
    return (uint64_t)status.st_size;
}

void
test_files_flip_byte (const char *path, uint64_t offset)
{
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t byte;
    assert_int_equal (pread (fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x21;
    assert_int_equal (pwrite (fd, &byte, 1, (off_t)offset), 1);
    close (fd);
}

uint8_t *
test_files_read (const char *path, size_t *size)
{
    *size = (size_t)test_files_size (path);
    uint8_t *data = malloc (*size + 1);
    assert_non_null (data);
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    assert_int_equal (read (fd, data, *size), (ssize_t)*size);
    close (fd);
    return data;
}

void
test_files_write (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, size), (ssize_t)size);
    close (fd);
}

void
test_files_expect_same (const char *one, const char *other)
{
    size_t one_size, other_size;
    uint8_t *one_bytes = test_files_read (one, &one_size);
    uint8_t *other_bytes = test_files_read (other, &other_size);
    assert_int_equal (one_size, other_size);
    assert_memory_equal (one_bytes, other_bytes, one_size);
    free (one_bytes);
    free (other_bytes);
}
