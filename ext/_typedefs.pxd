# Fixed-width types shared by every kernel (one place, as in sklearn/utils/_typedefs.pxd).
from libc.stdint cimport int32_t, int64_t

ctypedef double float64_t
ctypedef Py_ssize_t intp_t
