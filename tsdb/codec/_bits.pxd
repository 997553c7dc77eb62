# cython: language_level=3
"""Bit counts and raw big-endian byte access for the compiled chunk kernels.

Shared by ``cimport`` (everything here is inline C, no module behind it).

* :func:`clz64` / :func:`ctz64`: leading / trailing zero bits of a uint64,
  64 for 0 (GCC's builtins are undefined for 0, hence the guard, which the
  compiler folds away where the caller already knows ``x != 0``).
* :func:`load_be64` / :func:`store_be32` / :func:`store_be64`: one unaligned
  load or store through ``memcpy``, byte-swapped to big-endian; GCC compiles
  each to a single ``mov`` + ``bswap`` (or ``movbe``).

None of them checks bounds: every caller states why each access stays
inside the buffer it was handed.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    static inline int64_t promlite_clz64(uint64_t x) {
        return x ? (int64_t)__builtin_clzll(x) : 64;
    }
    static inline int64_t promlite_ctz64(uint64_t x) {
        return x ? (int64_t)__builtin_ctzll(x) : 64;
    }
    static inline uint64_t promlite_load_be64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, 8);
    #if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        return v;
    }
    static inline void promlite_store_be32(uint8_t *p, uint64_t value) {
        uint32_t v = (uint32_t)value;
    #if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap32(v);
    #endif
        memcpy(p, &v, 4);
    }
    static inline void promlite_store_be64(uint8_t *p, uint64_t v) {
    #if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        memcpy(p, &v, 8);
    }
    """
    int64_t clz64 "promlite_clz64"(uint64_t x) noexcept nogil
    int64_t ctz64 "promlite_ctz64"(uint64_t x) noexcept nogil
    uint64_t load_be64 "promlite_load_be64"(const uint8_t *p) noexcept nogil
    void store_be32 "promlite_store_be32"(uint8_t *p, uint64_t value) noexcept nogil
    void store_be64 "promlite_store_be64"(uint8_t *p, uint64_t value) noexcept nogil
