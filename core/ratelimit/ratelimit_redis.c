#include "ratelimit/ratelimit_redis.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keyring.h"
#include "util/log.h"

#define RETRY_MS 1000         /* between connection attempts */
#define PROBE_MS 1000         /* connect + SCRIPT LOAD must finish in this */
#define MAX_WAITING 10000     /* checks in flight on one connection */
#define KEY_PREFIX "rg:rl:"
#define NONCE_PREFIX "rg:nonce:"
#define ENDED_PREFIX "rg:ended:"
/* Redis AUTH from the environment, never from a file: the password of a
   shared Redis is a deployment secret like the master keys. */
#define PASSWORD_ENV "READGATE_REDIS_PASSWORD"
#define USERNAME_ENV "READGATE_REDIS_USERNAME"

/*
 * KEYS: one per window, then the replay key when ARGV[1] > 0, then the
 * session's ended mark when ARGV[2] > 0.
 * ARGV[1]: seconds to remember the replay key (0: none); ARGV[2]: seconds
 * the session has left (0: no session); ARGV[3]: 1 to end the session when
 * the request is admitted; then, per window, limit, number of buckets,
 * bucket length in ms.
 * Returns {-2} for an ended session (checked first: it burns no nonce), {-1}
 * for a replay, else {admitted (1/0), then per window: admits (1/0),
 * remaining, wait ms}. The arithmetic is sliding_window.c's.
 */
static const char SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[1])\n"
    "local sttl = tonumber(ARGV[2])\n"
    "local n = #KEYS\n"
    "local ended\n"
    "if sttl > 0 then\n"
    "  ended = KEYS[n]\n"
    "  n = n - 1\n"
    "  if redis.call('EXISTS', ended) == 1 then return {-2} end\n"
    "end\n"
    "if ttl > 0 then\n"
    "  if not redis.call('SET', KEYS[n], '1', 'NX', 'EX', ttl) then return {-1} end\n"
    "  n = n - 1\n"
    "end\n"
    "local out = {1}\n"
    "local ticks = {}\n"
    "for i = 1, n do\n"
    "  local limit = tonumber(ARGV[3 * i + 1])\n"
    "  local nb = tonumber(ARGV[3 * i + 2])\n"
    "  local ms = tonumber(ARGV[3 * i + 3])\n"
    "  local tick = math.floor(now / ms)\n"
    "  local oldest = tick - nb + 1\n"
    "  local flat = redis.call('HGETALL', KEYS[i])\n"
    "  local counts = {}\n"
    "  local total = 0\n"
    "  for j = 1, #flat, 2 do\n"
    "    local b = tonumber(flat[j])\n"
    "    if b < oldest then\n"
    "      redis.call('HDEL', KEYS[i], flat[j])\n"
    "    else\n"
    "      local c = tonumber(flat[j + 1])\n"
    "      counts[b] = c\n"
    "      total = total + c\n"
    "    end\n"
    "  end\n"
    "  local ok = total < limit\n"
    "  local below = limit\n"
    "  if ok then\n"
    "    total = total + 1\n"
    "    counts[tick] = (counts[tick] or 0) + 1\n"
    "    below = total\n"
    "  else\n"
    "    out[1] = 0\n"
    "  end\n"
    "  local left = total\n"
    "  local k = 1\n"
    "  while k <= nb do\n"
    "    left = left - (counts[oldest + k - 1] or 0)\n"
    "    if left < below then break end\n"
    "    k = k + 1\n"
    "  end\n"
    "  if k > nb then k = nb end\n"
    "  local wait = (tick + k) * ms - now\n"
    "  if wait < 1 then wait = 1 end\n"
    "  out[#out + 1] = ok and 1 or 0\n"
    "  out[#out + 1] = ok and (limit - total) or 0\n"
    "  out[#out + 1] = wait\n"
    "  ticks[i] = tick\n"
    "end\n"
    "if out[1] == 1 then\n"
    "  for i = 1, n do\n"
    "    local ms = tonumber(ARGV[3 * i + 3])\n"
    "    redis.call('HINCRBY', KEYS[i], ticks[i], 1)\n"
    "    redis.call('PEXPIRE', KEYS[i], (tonumber(ARGV[3 * i + 2]) + 1) * ms)\n"
    "  end\n"
    "  if ended and ARGV[3] == '1' then redis.call('SET', ended, '1', 'EX', sttl) end\n"
    "end\n"
    "return out\n";

typedef enum { ST_OFF, ST_DOWN, ST_CONNECTING, ST_UP } conn_state;
typedef enum { REP_NONE, REP_UP, REP_DOWN } reported;

struct rg_rl_redis {
    struct event_base *base;
    int index;
    rg_rl_redis_stats *stats;
    char *host;
    int port;
    char *username, *password; /* AUTH, when READGATE_REDIS_PASSWORD is set */
    uint32_t timeout_ms;
    redisAsyncContext *ac;
    conn_state state;
    reported reported;
    bool counted_up; /* contributes to stats->up */
    bool stopping;
    char sha[41];
    size_t waiting;
    struct event *retry_ev; /* reconnect */
    struct event *probe_ev; /* bounds connect + SCRIPT LOAD */
    struct event *reset_ev; /* drop the connection, outside hiredis callbacks */
    char reset_reason[200];
    bool reset_pending;
};

struct rg_rl_redis_req {
    rg_rl_redis *r;
    rg_rl_redis_cb cb; /* NULL once answered or cancelled */
    void *arg;
    struct event *timer;
    rg_rl_check chk;
    bool tried_eval;
};

static void set_up(rg_rl_redis *r, bool up)
{
    if (up != r->counted_up) {
        atomic_fetch_add(&r->stats->up, up ? 1 : -1);
        r->counted_up = up;
    }
}

/* One log line per change of state, never one per request. */
static void report(rg_rl_redis *r, bool up, const char *why)
{
    reported now = up ? REP_UP : REP_DOWN;
    if (r->reported == now)
        return;
    if (up)
        rg_info("rate limits: loop %d connected to Redis at %s:%d; limits are shared", r->index,
                r->host, r->port);
    else
        rg_warn("rate limits: loop %d: Redis at %s:%d is unavailable (%s); limiting with local "
                "counters and reconnecting in the background",
                r->index, r->host, r->port, why);
    r->reported = now;
}

static void schedule_retry(rg_rl_redis *r)
{
    if (r->stopping || !r->host)
        return;
    struct timeval tv = {.tv_sec = RETRY_MS / 1000, .tv_usec = (RETRY_MS % 1000) * 1000};
    if (event_add(r->retry_ev, &tv) != 0)
        rg_error_log("rate limits: loop %d: cannot schedule a Redis reconnect", r->index);
}

/* Forget the connection (hiredis answers its waiting callbacks with NULL). */
static void drop(rg_rl_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = r->host ? ST_DOWN : ST_OFF;
    set_up(r, false);
    event_del(r->probe_ev);
    if (r->host)
        report(r, false, why);
    if (ac)
        redisAsyncFree(ac); /* not called from inside a hiredis callback */
    schedule_retry(r);
}

/* hiredis gave the connection up: counted, then dropped like any other,
   except that hiredis frees the context itself. */
static void lost(rg_rl_redis *r, const char *what, const char *detail)
{
    char why[128];
    snprintf(why, sizeof why, "%s: %s", what, detail);
    atomic_fetch_add(&r->stats->errors, 1);
    r->ac = NULL;
    drop(r, why);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rg_rl_redis *r = ac->data;
    if (status == REDIS_OK || r->ac != ac)
        return;
    lost(r, "connect", ac->errstr[0] ? ac->errstr : "failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    rg_rl_redis *r = ac->data;
    if (r->ac != ac)
        return; /* we dropped it ourselves */
    lost(r, "connection lost", ac->errstr[0] ? ac->errstr : "closed");
}

/* Ask for a drop from inside a hiredis callback: done from the loop next. */
static void request_reset(rg_rl_redis *r, const char *why)
{
    /* The first reason stands: a refused AUTH also fails the SCRIPT LOAD
       queued behind it, and the AUTH answer is the one that explains. */
    if (r->reset_pending)
        return;
    r->reset_pending = true;
    snprintf(r->reset_reason, sizeof r->reset_reason, "%s", why);
    event_active(r->reset_ev, 0, 0);
}

static void on_reset(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_rl_redis *r = arg;
    r->reset_pending = false;
    if (r->ac)
        drop(r, r->reset_reason);
}

static void on_script_loaded(redisAsyncContext *ac, void *reply_, void *priv)
{
    rg_rl_redis *r = priv;
    redisReply *reply = reply_;
    if (!reply || r->ac != ac)
        return; /* the connection is going away; on_disconnect/drop handle it */
    if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy(r->sha, reply->str, 40);
        r->sha[40] = '\0';
        r->state = ST_UP;
        event_del(r->probe_ev);
        set_up(r, true);
        report(r, true, NULL);
        return;
    }
    atomic_fetch_add(&r->stats->errors, 1);
    char why[160];
    snprintf(why, sizeof why, "SCRIPT LOAD failed: %.100s",
             reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "unexpected reply");
    request_reset(r, why);
}

static void on_auth(redisAsyncContext *ac, void *reply_, void *priv)
{
    rg_rl_redis *r = priv;
    redisReply *reply = reply_;
    if (!reply || r->ac != ac)
        return;
    if (reply->type == REDIS_REPLY_STATUS)
        return; /* OK: SCRIPT LOAD, queued behind, finishes the probe */
    atomic_fetch_add(&r->stats->errors, 1);
    /* Redis's own words ("WRONGPASS invalid username-password pair"), never
       what was sent. */
    char why[200];
    snprintf(why, sizeof why, "AUTH refused (check %s%s): %.100s", PASSWORD_ENV,
             r->username ? " and " USERNAME_ENV : "",
             reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "unexpected reply");
    request_reset(r, why);
}

/* AUTH [username] password, first on a new connection (commands run in
   order, so SCRIPT LOAD waits behind it). */
static int send_auth(rg_rl_redis *r, redisAsyncContext *ac)
{
    const char *argv[3] = {"AUTH", r->username ? r->username : r->password, r->password};
    size_t argvlen[3];
    int argc = r->username ? 3 : 2;
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    return redisAsyncCommandArgv(ac, on_auth, r, argc, argv, argvlen);
}

static void connect_now(rg_rl_redis *r)
{
    if (!r->host || r->stopping || r->ac)
        return;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        r->state = ST_DOWN;
        report(r, false, why);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
        redisAsyncFree(ac);
        r->state = ST_DOWN;
        report(r, false, "cannot attach to the event loop");
        schedule_retry(r);
        return;
    }
    r->ac = ac;
    r->state = ST_CONNECTING;
    if (r->password && send_auth(r, ac) != REDIS_OK) {
        drop(r, "cannot send AUTH");
        return;
    }
    /* Queued until the connection is up; its answer is the readiness probe. */
    if (redisAsyncCommand(ac, on_script_loaded, r, "SCRIPT LOAD %s", SCRIPT) != REDIS_OK) {
        drop(r, "cannot send SCRIPT LOAD");
        return;
    }
    struct timeval tv = {.tv_sec = PROBE_MS / 1000, .tv_usec = (PROBE_MS % 1000) * 1000};
    event_add(r->probe_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void on_probe_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_rl_redis *r = arg;
    if (r->state != ST_UP && r->ac) {
        atomic_fetch_add(&r->stats->timeouts, 1);
        drop(r, "no answer while connecting");
    }
}

rg_rl_redis *rg_rl_redis_new(struct event_base *base, int index, rg_rl_redis_stats *stats)
{
    rg_rl_redis *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    r->index = index;
    r->stats = stats;
    r->state = ST_OFF;
    r->timeout_ms = 50;
    r->retry_ev = evtimer_new(base, on_retry, r);
    r->probe_ev = evtimer_new(base, on_probe_timeout, r);
    r->reset_ev = event_new(base, -1, 0, on_reset, r);
    const char *pw = getenv(PASSWORD_ENV), *user = getenv(USERNAME_ENV);
    bool auth_ok = true;
    if (pw && *pw) {
        r->password = strdup(pw);
        auth_ok = r->password != NULL;
        if (auth_ok && user && *user)
            auth_ok = (r->username = strdup(user)) != NULL;
    }
    if (!r->retry_ev || !r->probe_ev || !r->reset_ev || !auth_ok) {
        rg_rl_redis_free(r);
        return NULL;
    }
    return r;
}

void rg_rl_redis_configure(rg_rl_redis *r, const char *host, int port, uint32_t timeout_ms)
{
    r->timeout_ms = timeout_ms ? timeout_ms : 50;
    bool same = (!host && !r->host) || (host && r->host && strcmp(host, r->host) == 0 && port == r->port);
    if (same)
        return;
    if (r->host) {
        atomic_fetch_sub(&r->stats->configured, 1);
        char *old = r->host;
        r->host = NULL; /* drop() must not reconnect to the old address */
        event_del(r->retry_ev);
        drop(r, "address changed");
        free(old);
    }
    r->reported = REP_NONE;
    if (!host) {
        r->state = ST_OFF;
        return;
    }
    r->host = strdup(host);
    if (!r->host) {
        rg_error_log("rate limits: out of memory; Redis is not used");
        r->state = ST_OFF;
        return;
    }
    r->port = port;
    r->state = ST_DOWN;
    atomic_fetch_add(&r->stats->configured, 1);
    connect_now(r);
}

void rg_rl_redis_free(rg_rl_redis *r)
{
    if (!r)
        return;
    r->stopping = true;
    if (r->host)
        atomic_fetch_sub(&r->stats->configured, 1);
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        set_up(r, false);
        redisAsyncFree(ac);
    }
    if (r->retry_ev)
        event_free(r->retry_ev);
    if (r->probe_ev)
        event_free(r->probe_ev);
    if (r->reset_ev)
        event_free(r->reset_ev);
    free(r->host);
    free(r->username);
    if (r->password) {
        rg_secure_zero(r->password, strlen(r->password));
        free(r->password);
    }
    free(r);
}

/* ---- one check ------------------------------------------------------------- */

static void answer(rg_rl_redis_req *q, rg_rl_redis_status st, const rg_swin_verdict *v)
{
    rg_rl_redis_cb cb = q->cb;
    q->cb = NULL;
    event_del(q->timer);
    if (cb)
        cb(q->arg, st, v);
}

static void req_free(rg_rl_redis_req *q)
{
    q->r->waiting--;
    event_free(q->timer);
    free(q);
}

static int send_check(rg_rl_redis_req *q, bool eval);

static bool parse_reply(const rg_rl_check *c, const redisReply *rep, rg_rl_redis_status *st,
                        rg_swin_verdict *v)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER)
        return false;
    if (rep->element[0]->integer == -1 || rep->element[0]->integer == -2) {
        *st = rep->element[0]->integer == -1 ? RG_RL_REDIS_REPLAY : RG_RL_REDIS_ENDED;
        return true;
    }
    if (rep->elements != 1 + 3 * c->nwin)
        return false;
    for (size_t i = 0; i < c->nwin; i++) {
        const redisReply *a = rep->element[1 + 3 * i], *b = rep->element[2 + 3 * i],
                         *w = rep->element[3 + 3 * i];
        if (a->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER ||
            w->type != REDIS_REPLY_INTEGER || b->integer < 0 || w->integer < 1 ||
            b->integer > UINT32_MAX || w->integer > UINT32_MAX)
            return false;
        v[i].allowed = a->integer == 1;
        v[i].remaining = (uint32_t)b->integer;
        v[i].wait_ms = (uint32_t)w->integer;
        v[i].tick = 0;
    }
    *st = RG_RL_REDIS_OK;
    return true;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *priv)
{
    (void)ac;
    rg_rl_redis_req *q = priv;
    redisReply *reply = reply_;
    rg_rl_redis *r = q->r;
    if (!reply) { /* connection gone */
        answer(q, RG_RL_REDIS_UNAVAILABLE, NULL);
        req_free(q);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && reply->str && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        !q->tried_eval && q->cb) {
        /* Redis lost the script (restart, SCRIPT FLUSH): send it whole. */
        q->tried_eval = true;
        if (send_check(q, true) == 0)
            return; /* q now belongs to the new command */
        answer(q, RG_RL_REDIS_UNAVAILABLE, NULL);
        req_free(q);
        return;
    }
    rg_swin_verdict v[RG_RL_NDIMS];
    rg_rl_redis_status st;
    if (parse_reply(&q->chk, reply, &st, v)) {
        answer(q, st, v);
    } else {
        atomic_fetch_add(&r->stats->errors, 1);
        if (r->reported != REP_DOWN) {
            /* Once per state change: the drop below reports it. */
            char why[160];
            snprintf(why, sizeof why, "unexpected reply to the rate-limit script: %.100s",
                     reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "wrong shape");
            request_reset(r, why);
        }
        answer(q, RG_RL_REDIS_UNAVAILABLE, NULL);
    }
    req_free(q);
}

static void on_req_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_rl_redis_req *q = arg;
    rg_rl_redis *r = q->r;
    if (!q->cb)
        return;
    atomic_fetch_add(&r->stats->timeouts, 1);
    char why[96];
    snprintf(why, sizeof why, "no answer within %u ms", r->timeout_ms);
    /* Redis is slow or stuck: stop sending it work until it answers again. */
    if (r->state == ST_UP)
        request_reset(r, why);
    answer(q, RG_RL_REDIS_UNAVAILABLE, NULL);
    /* q is freed when hiredis returns it (reply or connection dropped). */
}

static void hexcat(char *dst, const char *prefix, const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t p = strlen(prefix);
    memcpy(dst, prefix, p);
    for (size_t i = 0; i < n; i++) {
        dst[p + 2 * i] = hx[b[i] >> 4];
        dst[p + 2 * i + 1] = hx[b[i] & 15];
    }
    dst[p + 2 * n] = '\0';
}

static int send_check(rg_rl_redis_req *q, bool eval)
{
    const rg_rl_check *c = &q->chk;
    rg_rl_redis *r = q->r;
    enum { MAXARGS = 3 + (RG_RL_NDIMS + 2) + 3 + 3 * RG_RL_NDIMS };
    char keys[RG_RL_NDIMS + 2][sizeof NONCE_PREFIX + 2 * RG_RL_NONCE_KEY_MAX + 1];
    char nums[3 + 3 * RG_RL_NDIMS][24];
    char nkeys[16];
    const char *argv[MAXARGS];
    size_t argvlen[MAXARGS];
    int argc = 0;
    size_t nk = c->nwin + (c->has_nonce ? 1 : 0) + (c->has_session ? 1 : 0);
    snprintf(nkeys, sizeof nkeys, "%zu", nk);
    argv[argc++] = eval ? "EVAL" : "EVALSHA";
    argv[argc++] = eval ? SCRIPT : r->sha;
    argv[argc++] = nkeys;
    for (size_t i = 0; i < c->nwin; i++) {
        hexcat(keys[i], KEY_PREFIX, c->win[i].key, c->win[i].keylen);
        argv[argc++] = keys[i];
    }
    uint64_t ttl = 0, sttl = 0, now = (uint64_t)time(NULL);
    size_t kx = c->nwin;
    if (c->has_nonce) {
        hexcat(keys[kx], NONCE_PREFIX, c->nonce, c->nonce_len);
        argv[argc++] = keys[kx++];
        ttl = c->nonce_until > now ? c->nonce_until - now : 1;
    }
    if (c->has_session) {
        hexcat(keys[kx], ENDED_PREFIX, c->session_id, sizeof c->session_id);
        argv[argc++] = keys[kx++];
        sttl = c->session_until > now ? c->session_until - now : 1;
    }
    int k = 0;
    snprintf(nums[k], sizeof nums[k], "%llu", (unsigned long long)ttl);
    argv[argc++] = nums[k++];
    snprintf(nums[k], sizeof nums[k], "%llu", (unsigned long long)sttl);
    argv[argc++] = nums[k++];
    argv[argc++] = c->has_session && c->end_session ? "1" : "0";
    for (size_t i = 0; i < c->nwin; i++) {
        snprintf(nums[k], sizeof nums[k], "%u", c->win[i].limit);
        argv[argc++] = nums[k++];
        snprintf(nums[k], sizeof nums[k], "%u", (unsigned)c->win[i].nbuckets);
        argv[argc++] = nums[k++];
        snprintf(nums[k], sizeof nums[k], "%u", c->win[i].bucket_ms);
        argv[argc++] = nums[k++];
    }
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    if (!r->ac || redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK)
        return -1;
    return 0;
}

int rg_rl_redis_check(rg_rl_redis *r, const rg_rl_check *c, rg_rl_redis_cb cb, void *arg,
                      rg_rl_redis_req **handle)
{
    if (!r || r->state != ST_UP || !r->ac || r->waiting >= MAX_WAITING)
        return -1;
    rg_rl_redis_req *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    q->r = r;
    q->cb = cb;
    q->arg = arg;
    q->chk = *c;
    q->timer = evtimer_new(r->base, on_req_timeout, q);
    if (!q->timer) {
        free(q);
        return -1;
    }
    r->waiting++;
    if (send_check(q, false) != 0) {
        req_free(q);
        return -1;
    }
    struct timeval tv = {.tv_sec = r->timeout_ms / 1000, .tv_usec = (r->timeout_ms % 1000) * 1000};
    event_add(q->timer, &tv);
    *handle = q;
    return 0;
}

void rg_rl_redis_cancel(rg_rl_redis_req *q)
{
    if (!q)
        return;
    q->cb = NULL;
    event_del(q->timer);
}
