/*
 * Sessions already verified, per thread: a widget signs request after
 * request with the same session token, and checking the token's MAC and
 * deriving its signing secret (two HMACs) was a tenth of the cost of
 * answering from the cache. An entry counts only for the runtime (and its
 * keys) it was verified under; expiry and the site are checked every time,
 * and so is everything that follows verification (ended sessions, the
 * request's own signature and nonce). Entries hold signing secrets: they
 * are wiped when replaced and when the thread ends.
 */
#ifndef RG_SERVER_SESSION_MEMO_H
#define RG_SERVER_SESSION_MEMO_H

#include <stdint.h>

#include "crypto/session.h"
#include "server/runtime.h"

/* rg_session_verify(rt->kr, ...), remembering what it accepted. */
rg_session_status rg_session_verify_memo(const rg_runtime *rt, const char *token,
                                         const char *site_id, uint64_t now, rg_session *out);

#endif
