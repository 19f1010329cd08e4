#pragma once
// Invariant checks. KEDGE_CHECK always runs and aborts with a message; KEDGE_ASSERT only in
// debug builds. Never use either on something the network or the user controls.

#include <cstdio>
#include <cstdlib>

#define KEDGE_CHECK(cond)                                                                 \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

#ifdef NDEBUG
#define KEDGE_ASSERT(cond) ((void)0)
#else
#define KEDGE_ASSERT(cond) KEDGE_CHECK(cond)
#endif
