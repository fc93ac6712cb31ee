/*
 * Scratch memory for jansson while a request body is parsed into a plan.
 * The parsed tree lives only inside rg_plan_build (the plan copies what it
 * keeps into its own arena), yet jansson made a malloc for every value and
 * key of it and a free for each again: a bump allocator per thread, reset
 * after each body, does the same with none. Outside begin/end, and for
 * whatever does not fit, jansson gets malloc and free as before; a pointer
 * is given back to free() unless it lies in this thread's scratch block.
 */
#ifndef RG_QUERY_JSON_SCRATCH_H
#define RG_QUERY_JSON_SCRATCH_H

/* Route jansson's allocations through the scratch allocator: once, before
   the threads that parse bodies start. */
void rg_json_scratch_install(void);

/* Between these, jansson allocates from this thread's scratch block; every
   value allocated in between must be freed (or dead) before end. */
void rg_json_scratch_begin(void);
void rg_json_scratch_end(void);

#endif
