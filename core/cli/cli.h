/* The `readgate` command: one function per sub-command, each returning the
   process exit status (0 ok, 1 failure found, 2 usage error). */
#ifndef RG_CLI_H
#define RG_CLI_H

int rg_cli_serve(int argc, char **argv);   /* serve [-c FILE] */
int rg_cli_check(int argc, char **argv);   /* check [-c FILE] */
int rg_cli_keys(int argc, char **argv);    /* keys generate [--kid KID] | keys rotate ... */
int rg_cli_keys_rotate(int argc, char **argv); /* keys rotate --to KID [-c FILE] [--dry-run] */
int rg_cli_secret(int argc, char **argv);  /* secret encrypt --site S --field PATH */
int rg_cli_query(int argc, char **argv);   /* query ...: the signing client */
int rg_cli_oauth(int argc, char **argv);   /* oauth import ... | oauth status ... */
int rg_cli_site(int argc, char **argv);    /* site delete SITE [-c FILE] */
int rg_cli_config_schema(int argc, char **argv); /* config-schema server|site */
int rg_cli_config_docs(int argc, char **argv);   /* config-docs */

#endif
