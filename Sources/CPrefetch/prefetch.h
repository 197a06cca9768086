#ifndef HVTAX_PREFETCH_H
#define HVTAX_PREFETCH_H

/* Swift has no prefetch instruction of its own: __builtin_prefetch is reachable only from C. The
   function is static inline, so Swift's Clang importer emits it into the calling module and the
   optimizer inlines it: a single prefetchw (or prefetcht0) where it is called. */
static inline void hvtax_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
