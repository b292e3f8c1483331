/*
 * chat_format.h - the chat formats (docs/CHAT.md): the text around a system
 * prompt, each user turn and each reply, recognised from the model's
 * template or named by --chat-template. Chat mode and the server's
 * /v1/chat/completions render conversations with them.
 */
#ifndef BN_COMMON_CHAT_FORMAT_H
#define BN_COMMON_CHAT_FORMAT_H

#include "bitnet.h"
#include "buf.h"

/* How a reply that did not end by itself is closed before the next turn. */
typedef enum { CLOSE_NONE, CLOSE_TEXT, CLOSE_EOS } chat_close;

/* The text around the system prompt and each user turn. */
typedef struct chat_format {
    const char *name;
    const char *system_prefix, *system_suffix;
    const char *user_prefix, *user_suffix;
    const char *after_reply; /* between a reply's end token and the next user turn */
    chat_close close;
    const char *eot_text; /* CLOSE_TEXT: the end-of-turn token's text */
} chat_format;

/* The format named `name` (--chat-template), else the model's (name NULL);
 * plain completion when the vocabulary lacks a token the format needs.
 * NULL with err set for an unknown name. */
const chat_format *chat_format_choose(const char *name, const bn_model *m, char err[BN_ERR_LEN]);
/* The name of the format the model's template stands for ("none"). */
const char *chat_format_of_model_name(const bn_model *m);
/* The token that closes a reply in format f, -1 for none. */
int32_t chat_format_closing_token(const chat_format *f, const bn_tokenizer *tok);
/* Appends one message of a conversation as the format writes it: role
 * "system", "user" (followed by the reply's cue) or "assistant" (a past
 * reply); -1 for another role. */
int chat_format_message(const chat_format *f, const bn_tokenizer *tok, text_buf *b,
                        const char *role, const char *text, size_t len);

#endif
