/* Source options for the adapter under test: from a config file and flags. */
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

int rg_conf_source_set(rg_conf_source *s, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return -1;
    for (size_t i = 0; i < s->noptions; i++) {
        if (!strcmp(s->options[i].key, key)) {
            free((char *)s->options[i].value);
            s->options[i].value = v;
            return 0;
        }
    }
    char *k = strdup(key);
    rg_option *grown = realloc(s->options, (s->noptions + 1) * sizeof *grown);
    if (!k || !grown) {
        free(k);
        free(v);
        if (grown)
            s->options = grown;
        return -1;
    }
    s->options = grown;
    s->options[s->noptions].struct_size = sizeof s->options[s->noptions];
    s->options[s->noptions].key = k;
    s->options[s->noptions].value = v;
    s->noptions++;
    return 0;
}

int rg_conf_source_set_pair(rg_conf_source *s, const char *pair)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair)
        return -1;
    char *key = strndup(pair, (size_t)(eq - pair));
    if (!key)
        return -1;
    int rc = rg_conf_source_set(s, key, eq + 1);
    free(key);
    return rc;
}

int rg_conf_source_set_json(rg_conf_source *s, json_t *obj, char *err, size_t errsz)
{
    if (!json_is_object(obj)) {
        snprintf(err, errsz, "options must be an object of key: value");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        char num[64];
        const char *text;
        /* Options arrive as their YAML text in the gateway; do the same. */
        if (json_is_string(val))
            text = json_string_value(val);
        else if (json_is_integer(val))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(val)), text = num;
        else if (json_is_real(val))
            snprintf(num, sizeof num, "%.17g", json_real_value(val)), text = num;
        else if (json_is_boolean(val))
            text = json_is_true(val) ? "true" : "false";
        else {
            snprintf(err, errsz, "option '%s' must be a string, number or boolean", key);
            return -1;
        }
        if (rg_conf_source_set(s, key, text) != 0) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
    }
    return 0;
}

int rg_conf_source_copy(rg_conf_source *dst, const rg_conf_source *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->noptions; i++)
        if (rg_conf_source_set(dst, src->options[i].key, src->options[i].value) != 0)
            goto oom;
    if (src->base_dir && !(dst->base_dir = strdup(src->base_dir)))
        goto oom;
    return 0;
oom:
    rg_conf_source_free(dst);
    return -1;
}

void rg_conf_source_free(rg_conf_source *s)
{
    for (size_t i = 0; i < s->noptions; i++) {
        free((char *)s->options[i].key);
        free((char *)s->options[i].value);
    }
    free(s->options);
    free(s->base_dir);
    memset(s, 0, sizeof *s);
}

void rg_conf_source_info(const rg_conf_source *s, rg_source_info *info,
                         uint32_t connect_timeout_ms)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->site_id = "conformance";
    info->source_name = "fixture";
    info->options = s->options;
    info->noptions = s->noptions;
    info->connect_timeout_ms = connect_timeout_ms;
    info->base_dir = s->base_dir;
}
