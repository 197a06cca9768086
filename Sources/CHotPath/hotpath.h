#ifndef HVTAX_HOTPATH_H
#define HVTAX_HOTPATH_H

/* Two things Swift cannot ask of the code generator, header-only.

   Swift has no prefetch instruction of its own: __builtin_prefetch is reachable only from C. The
   function is static inline, so Swift's Clang importer emits it into the calling module and the
   optimizer inlines it: a single prefetchw (or prefetcht0) where it is called. */
static inline void hvtax_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/* One step up a tournament tree: the running winner (time, cpu) meets the other child of the next
   node. The other child wins on an earlier time, or on the same time from a lower CPU index. Which
   one wins is a coin toss when CPUs interleave; Swift's optimizer turned every form of this choice
   into a branch, mispredicted half the time. __builtin_unpredictable keeps it a pair of cmovs. */
static inline void hvtax_tournament_step(unsigned long long *time, int *winner,
                                         unsigned long long otherTime, int otherWinner) {
    int otherWins = (otherTime < *time) | ((otherTime == *time) & (otherWinner < *winner));
    unsigned long long t = *time;
    int w = *winner;
    *time = __builtin_unpredictable(otherWins) ? otherTime : t;
    *winner = __builtin_unpredictable(otherWins) ? otherWinner : w;
}

#endif
