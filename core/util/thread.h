/* Threads the process never joins: work handed off the event loops
   (retiring an old configuration, ending a Shopify connection). */
#ifndef RG_THREAD_H
#define RG_THREAD_H

/* Run fn(arg) on a new detached thread that takes no signals. 0, or -1
   (nothing started: the caller still owns arg). */
int rg_thread_detached(void *(*fn)(void *), void *arg);

#endif
