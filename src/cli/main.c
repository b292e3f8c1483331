/*
 * main.c - the bitnet-run command line: the flags (parsed and described by
 * the option table of src/common/options.c), --info, and the dispatch to
 * the modes, one file each (generate, chat, batch, perplexity, tokenize,
 * bench). It uses only the public API of include/bitnet.h and src/common.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "chat_format.h"
#include "cli.h"
#include "os.h"

/* --list-devices: one line per device. */
static void print_device(const char *line, void *data)
{
    (void)data;
    printf("%s\n", line);
}

/* Parses the flags through the option table (src/common/options.c); prints
 * --help or --version and exits, or exits on a usage error. */
static void parse_args(int argc, char **argv, run_opts *o)
{
    char err[BN_ERR_LEN];
    switch (opts_parse(argc, argv, o, err)) {
    case OPTS_HELP: opts_print_help(stdout, o->mode == MODE_BENCH); exit(0);
    case OPTS_VERSION: cli_print_version(); exit(0);
    case OPTS_LIST_DEVICES: bn_list_devices(print_device, NULL); exit(0);
    case OPTS_ERROR: cli_die(EXIT_USAGE, "%s", err);
    default: break;
    }
    if (o->ignored_ngl && !o->quiet)
        log_note("%s ignored: this build runs on the CPU", o->ignored_ngl);
    if (o->ignored_gpu && !o->quiet)
        log_note("%s ignored: bitnet-run has no such setting", o->ignored_gpu);
}

/* bn_model_describe's callback: one line of --info. */
static void print_line(const char *line, void *ctx)
{
    (void)ctx;
    printf("%s\n", line);
}

/* A special token as "ID 'text'", or "none". */
static const char *token_desc(const bn_tokenizer *tok, int32_t id, char *buf, size_t cap)
{
    const char *text = id >= 0 ? bn_token_text(tok, id) : NULL;
    if (text)
        snprintf(buf, cap, "%d '%s'", id, text);
    else
        snprintf(buf, cap, "none");
    return buf;
}

/* --info: the model loaded without its weights (fast), described. */
static int run_info(const run_opts *o)
{
    bn_model *m = cli_load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    char name[256], bos[128], eos[128], eot[128];
    if (bn_model_meta_str(m, "general.name", name, sizeof name) < 0)
        snprintf(name, sizeof name, "(none)");
    printf("name:            %s\n", name);
    bn_model_describe(m, print_line, NULL);
    printf("special tokens:  BOS %s, EOS %s, EOT %s\n",
           token_desc(tok, bn_token_bos(tok), bos, sizeof bos),
           token_desc(tok, bn_token_eos(tok), eos, sizeof eos),
           token_desc(tok, bn_token_eot(tok), eot, sizeof eot));
    printf("chat format:     %s\n", chat_format_of_model_name(m));
    bn_model_free(m);
    return 0;
}

/* Runs the mode the flags chose; returns the exit status. */
static int dispatch_mode(const run_opts *o)
{
    switch (o->mode) {
    case MODE_BENCH: return run_bench(o);
    case MODE_CHAT: return run_chat(o);
    case MODE_BATCH: return run_batch(o);
    case MODE_PERPLEXITY: return run_perplexity(o);
    case MODE_INFO: return run_info(o);
    case MODE_TOKENIZE: return run_tokenize(o);
    case MODE_DETOKENIZE: return run_detokenize(o);
    case MODE_SERVER: return run_server(o);
    case MODE_EMBEDDING: return run_embedding(o);
    default: return run_generate(o);
    }
}

/* Parses the flags and runs the mode they chose. */
int main(int argc, char **argv)
{
    os_utf8_console(&argc, &argv);
    cli_check_output_at_exit();
    if (argc == 2 && !strcmp(argv[1], "--print-flags")) { /* for tools/check-docs.sh */
        opts_print_flags(stdout);
        return 0;
    }
    run_opts o;
    parse_args(argc, argv, &o);
    int code = dispatch_mode(&o);
    opts_free(&o);
    return code;
}
