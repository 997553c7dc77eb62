# cython: language_level=3
"""Cheap argument checks for the kernels' ``def`` entry points: numpy array in, typed data pointer out.

Why not typed memoryviews: acquiring one goes through the buffer protocol
and costs ~0.1 µs per array, measured here; a kernel taking 6 to 22 arrays
paid 0.7-2.5 µs a call, more than the JIT dispatch it replaced, on calls (a commit, a
single chunk) whose work is a few hundred nanoseconds. These checks read
the array header through the numpy C API instead (~0.02 µs per array).

Each helper checks what the kernel relies on -- a numpy array of the
dtype (or an equivalent one: ``long``/``long long``), native byte order,
the number of dimensions, C-contiguous, writeable when written -- and
raises ``TypeError``/``ValueError`` naming the argument otherwise, as a
memoryview would. The returned pointer is valid while the caller holds the
array (the ``def``'s argument), which it does for the whole call.

The importing module must call ``cnp.import_array()`` once.
"""

cimport numpy as cnp
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t


cdef inline cnp.ndarray _array(object obj, int typenum, int ndim, bint write, str name):
    cdef cnp.ndarray a
    if not cnp.PyArray_Check(obj):
        raise TypeError(f"{name}: expected a numpy array, got {type(obj).__name__}")
    a = <cnp.ndarray>obj
    if ((cnp.PyArray_TYPE(a) != typenum and not cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(a), typenum))
            or not cnp.PyArray_ISNOTSWAPPED(a)):
        raise ValueError(f"{name}: dtype mismatch, expected {cnp.PyArray_DescrFromType(typenum)}, got {a.dtype}")
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got {cnp.PyArray_NDIM(a)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name}: array is not C-contiguous")
    if write and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name}: array is read-only")
    return a


cdef inline int64_t length(object a) noexcept:
    """First dimension of an array that passed one of the checks below."""
    return cnp.PyArray_DIM(<cnp.ndarray>a, 0)


cdef inline const int64_t *ro_i64(object obj, str name) except? NULL:
    return <const int64_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_INT64, 1, False, name))


cdef inline int64_t *rw_i64(object obj, str name) except? NULL:
    return <int64_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_INT64, 1, True, name))


cdef inline const uint64_t *ro_u64(object obj, str name) except? NULL:
    return <const uint64_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_UINT64, 1, False, name))


cdef inline uint64_t *rw_u64(object obj, str name) except? NULL:
    return <uint64_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_UINT64, 1, True, name))


cdef inline const int32_t *ro_i32(object obj, str name) except? NULL:
    return <const int32_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_INT32, 1, False, name))


cdef inline int32_t *rw_i32(object obj, str name) except? NULL:
    return <int32_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_INT32, 1, True, name))


cdef inline int8_t *rw_i8(object obj, str name) except? NULL:
    return <int8_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_INT8, 1, True, name))


cdef inline const uint8_t *ro_u8(object obj, str name) except? NULL:
    return <const uint8_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_UINT8, 1, False, name))


cdef inline uint8_t *rw_u8(object obj, str name) except? NULL:
    return <uint8_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_UINT8, 1, True, name))


cdef inline uint8_t *rw_u8_2d(object obj, str name) except? NULL:
    return <uint8_t *>cnp.PyArray_DATA(_array(obj, cnp.NPY_UINT8, 2, True, name))


cdef inline const double *ro_f64(object obj, str name) except? NULL:
    return <const double *>cnp.PyArray_DATA(_array(obj, cnp.NPY_FLOAT64, 1, False, name))


cdef inline double *rw_f64(object obj, str name) except? NULL:
    return <double *>cnp.PyArray_DATA(_array(obj, cnp.NPY_FLOAT64, 1, True, name))
