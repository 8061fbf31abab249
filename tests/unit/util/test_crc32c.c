/*  test_crc32c — checks CRC-32C: known vectors, incremental extension, and the
    hardware and software paths against a bit-at-a-time reference.

    The module source is included so the test can reach both static paths: on
    a machine with SSE4.2 the public function only ever takes the hardware one,
    and the software tables would otherwise go untested.
*/
#include "util/crc32c.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#define RANDOM_BUFFER_BYTES 4096
#define RANDOM_ROUNDS       2000

//  The definition itself, one bit at a time: slow but obviously right.
static uint32_t
s_reference_crc (const uint8_t *bytes, size_t size)
{
    uint32_t crc = 0xFFFFFFFF;
    for (size_t at = 0; at < size; at++) {
        crc ^= bytes[at];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0x82F63B78 & (0u - (crc & 1)));
    }
    return ~crc;
}

//  xorshift64: a seeded generator, so a failure can be replayed from its seed.
static uint64_t
s_next_random (uint64_t *state)
{
    uint64_t value = *state;
    value ^= value << 13;
    value ^= value >> 7;
    value ^= value << 17;
    *state = value;
    return value;
}

static uint64_t
s_pick_seed (void)
{
    const char *forced = getenv ("RAFTQ_TEST_SEED");
    uint64_t seed = forced ? strtoull (forced, NULL, 10) : (uint64_t)time (NULL);
    return seed ? seed : 1;
}

static void
test_known_vectors (void **state)
{
    (void)state;
    assert_int_equal (crc32c_extend (0, "123456789", 9), 0xE3069283);
    assert_int_equal (crc32c_extend (0, "", 0), 0);
    assert_int_equal (crc32c_extend (0, NULL, 0), 0);
    uint8_t zeros[32] = {0};
    assert_int_equal (crc32c_extend (0, zeros, sizeof zeros), 0x8A9136AA);
    uint8_t ones[32];
    memset (ones, 0xFF, sizeof ones);
    assert_int_equal (crc32c_extend (0, ones, sizeof ones), 0x62A8AB43);
}

static void
test_incremental_equals_one_shot (void **state)
{
    (void)state;
    const char *text = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t size = strlen (text);
    uint32_t whole = crc32c_extend (0, text, size);
    for (size_t split = 0; split <= size; split++) {
        uint32_t crc = crc32c_extend (0, text, split);
        crc = crc32c_extend (crc, text + split, size - split);
        assert_int_equal (crc, whole);
    }
}

static void
test_paths_agree_with_reference (void **state)
{
    (void)state;
    uint64_t seed = s_pick_seed ();
    uint64_t random_state = seed;
    uint8_t *buffer = malloc (RANDOM_BUFFER_BYTES);
    assert_non_null (buffer);
    for (size_t at = 0; at < RANDOM_BUFFER_BYTES; at++)
        buffer[at] = (uint8_t)s_next_random (&random_state);

    for (int round = 0; round < RANDOM_ROUNDS; round++) {
        //  Random start offsets exercise every alignment of the 8-byte loops.
        size_t start = s_next_random (&random_state) % 64;
        size_t size = s_next_random (&random_state) % (RANDOM_BUFFER_BYTES - start);
        uint32_t expected = s_reference_crc (buffer + start, size);
        uint32_t software = ~s_crc32c_software (0xFFFFFFFF, buffer + start, size);
        uint32_t public_crc = crc32c_extend (0, buffer + start, size);
        if (software != expected || public_crc != expected)
            fprintf (stderr, "crc mismatch: seed=%llu round=%d start=%zu size=%zu\n",
                     (unsigned long long)seed, round, start, size);
        assert_int_equal (software, expected);
        assert_int_equal (public_crc, expected);
#ifdef CRC32C_HAVE_HARDWARE
        if (__builtin_cpu_supports ("sse4.2")) {
            uint32_t hardware = ~s_crc32c_hardware (0xFFFFFFFF, buffer + start, size);
            if (hardware != expected)
                fprintf (stderr, "hardware crc mismatch: seed=%llu round=%d\n",
                         (unsigned long long)seed, round);
            assert_int_equal (hardware, expected);
        }
#endif
    }
    free (buffer);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_vectors),
        cmocka_unit_test (test_incremental_equals_one_shot),
        cmocka_unit_test (test_paths_agree_with_reference),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
