/*
 * Test helper: start a fake provider of tests/fakes/ as a process
 * (python3 tests/fakes/<provider>.py --port 0 --state DIR), read its
 * "ready port=N" line, drive its control API (/_fake/...) with libcurl, and
 * stop it.
 */
#ifndef RG_TEST_SAAS_FAKE_H
#define RG_TEST_SAAS_FAKE_H

#include <jansson.h>
#include <sys/types.h>

typedef struct saas_fake {
    pid_t pid;
    int port;
    char state[128];
    char url[64];
} saas_fake;

/* extra: NULL-terminated extra arguments. 0 on success. */
int saas_fake_start(saas_fake *f, const char *source_dir, const char *provider,
                    const char *const *extra);
void saas_fake_stop(saas_fake *f);

/* GET (body == NULL) or POST a JSON body to path; the parsed answer or NULL.
   *status gets the HTTP status when not NULL. Steals `body`. */
json_t *saas_fake_call(const saas_fake *f, const char *method, const char *path, json_t *body,
                       long *status);
/* /_fake/<what>: GET when body is NULL; asserts-free, NULL on failure. */
json_t *saas_fake_control(const saas_fake *f, const char *what, json_t *body);
/* The recorded provider requests (a new reference to the array), or NULL. */
json_t *saas_fake_requests(const saas_fake *f);
/* A fresh access token (malloc'd) from POST /_fake/tokens with `subject`. */
char *saas_fake_mint(const saas_fake *f, const char *subject);

#endif
