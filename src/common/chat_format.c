/*
 * chat_format.c - the chat formats and how a model's template is
 * recognised (by substring, as llama.cpp does: docs/CHAT.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_format.h"
#include "log.h"

static const chat_format FORMATS[] = {
    /* microsoft/bitnet-b1.58-2B-4T as HF defines it (docs/CHAT.md, bitnet) */
    {"bitnet", "System: ", "<|eot_id|>", "User: ", "<|eot_id|>Assistant: ", "", CLOSE_TEXT,
     "<|eot_id|>"},
    /* LLaMA-3 instruct headers (Llama3-8B-1.58) */
    {"llama3", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\n",
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "", CLOSE_TEXT, "<|eot_id|>"},
    /* Falcon3-Instruct: a reply ends with EOS, then a newline */
    {"falcon3", "<|system|>\n", "\n", "<|user|>\n", "\n<|assistant|>\n", "\n", CLOSE_EOS, NULL},
    /* ChatML (Falcon-E) */
    {"chatml", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n",
     "<|im_end|>\n<|im_start|>assistant\n", "\n", CLOSE_TEXT, "<|im_end|>"},
    /* plain completion: the lines are appended as they are */
    {"none", "", "", "", "", "", CLOSE_NONE, NULL},
};
enum { FORMAT_BITNET, FORMAT_LLAMA3, FORMAT_FALCON3, FORMAT_CHATML, FORMAT_NONE, N_FORMATS };

#define TEMPLATE_KEY "tokenizer.chat_template"

/* The format called name, or NULL with err set. */
static const chat_format *format_by_name(const char *name, char err[BN_ERR_LEN])
{
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(FORMATS[i].name, name)) return &FORMATS[i];
    snprintf(err, BN_ERR_LEN,
             "unknown format '%s' (expected bitnet, llama3, falcon3, chatml or none)", name);
    return NULL;
}

/* The format a template stands for, NULL when none. Like llama.cpp, it
 * never renders the Jinja text but recognises templates by substring, in
 * llama.cpp's order (docs/CHAT.md, Recognising the template). */
static const chat_format *format_of_template(const char *tpl)
{
    if (strstr(tpl, "BITNET")) return &FORMATS[FORMAT_BITNET];
    if (strstr(tpl, "<|im_start|>")) return &FORMATS[FORMAT_CHATML];
    if (strstr(tpl, "<|assistant|>") && strstr(tpl, "<|user|>") && !strstr(tpl, "<|end|>"))
        return &FORMATS[FORMAT_FALCON3];
    if (strstr(tpl, "<|start_header_id|>")) return &FORMATS[FORMAT_LLAMA3];
    return NULL;
}

/* The model's format; *why says what happened when there is none. */
static const chat_format *format_of_model(const bn_model *m, const char **why)
{
    char probe[1];
    int len = bn_model_meta_str(m, TEMPLATE_KEY, probe, sizeof probe);
    *why = "the model has no chat template";
    if (len < 0) return &FORMATS[FORMAT_NONE];
    char *tpl = malloc((size_t)len + 1);
    if (!tpl) log_out_of_memory();
    bn_model_meta_str(m, TEMPLATE_KEY, tpl, (size_t)len + 1);
    const chat_format *f = format_of_template(tpl);
    free(tpl);
    *why = "the model's chat template is not one this tool knows";
    return f ? f : &FORMATS[FORMAT_NONE];
}

const char *chat_format_of_model_name(const bn_model *m)
{
    const char *why;
    return format_of_model(m, &why)->name;
}

int32_t chat_format_closing_token(const chat_format *f, const bn_tokenizer *tok)
{
    if (f->close == CLOSE_EOS) return bn_token_eos(tok);
    if (f->close == CLOSE_TEXT) return bn_token_lookup(tok, f->eot_text, strlen(f->eot_text));
    return -1;
}

const chat_format *chat_format_choose(const char *name, const bn_model *m, char err[BN_ERR_LEN])
{
    const char *why = NULL;
    const chat_format *f = name ? format_by_name(name, err) : format_of_model(m, &why);
    if (!f) return NULL;
    if (f == &FORMATS[FORMAT_NONE] && why)
        log_note("%s: plain completion of each line (see --chat-template)", why);
    if (f->close != CLOSE_NONE && chat_format_closing_token(f, bn_model_tokenizer(m)) < 0) {
        log_note("the vocabulary has no %s token: plain completion of each line",
                 f->close == CLOSE_EOS ? "end-of-text" : f->eot_text);
        return &FORMATS[FORMAT_NONE];
    }
    return f;
}

int chat_format_message(const chat_format *f, const bn_tokenizer *tok, text_buf *b,
                        const char *role, const char *text, size_t len)
{
    const int system = !strcmp(role, "system"), user = !strcmp(role, "user");
    if (!system && !user && strcmp(role, "assistant")) return -1;
    const char *prefix = system ? f->system_prefix : user ? f->user_prefix : "";
    buf_append(b, prefix, strlen(prefix));
    buf_append(b, text, len);
    if (system || user) {
        const char *suffix = system ? f->system_suffix : f->user_suffix;
        buf_append(b, suffix, strlen(suffix));
        return 0;
    }
    /* a past reply: its closing token's text, then what follows a reply */
    const int32_t close = chat_format_closing_token(f, tok);
    const char *close_text = close >= 0 ? bn_token_text(tok, close) : NULL;
    if (close_text) buf_append(b, close_text, strlen(close_text));
    buf_append(b, f->after_reply, strlen(f->after_reply));
    return 0;
}
