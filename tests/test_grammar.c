/*
 * test_grammar.c - the GBNF grammars of constrained output
 * (src/common/grammar.c): texts a grammar accepts and refuses, character
 * classes, repetitions and groups, the built-in JSON grammar, where a text
 * may end, and grammars that would explode (left recursion, huge counts,
 * deep nesting) refused with an error instead of a hang.
 */
#include <stdlib.h>
#include <string.h>

#include "common/grammar.h"
#include "test.h"

/* Does grammar text g accept s whole (every character, and the end)? */
static int accepts(const char *g, const char *s)
{
    char err[BN_ERR_LEN];
    grammar *gr = grammar_parse(g, strlen(g), err);
    if (!gr) {
        test_fail(__FILE__, __LINE__, "%s: %s", g, err);
        return -1;
    }
    grammar_state *st = grammar_start(gr);
    const int ok = grammar_accept(st, s, strlen(s)) == 0 && grammar_can_end(st);
    grammar_state_free(st);
    grammar_free(gr);
    return ok;
}

/* Is the grammar refused, with an error naming `why`? */
static int refused(const char *g, const char *why)
{
    char err[BN_ERR_LEN] = "";
    grammar *gr = grammar_parse(g, strlen(g), err);
    grammar_free(gr);
    return !gr && strstr(err, why) != NULL;
}

TEST(grammar_literals_classes_alternatives)
{
    static const char g[] = "root ::= \"yes\" | \"no\" # a comment\n";
    CHECK_EQ_INT(accepts(g, "yes"), 1);
    CHECK_EQ_INT(accepts(g, "no"), 1);
    CHECK_EQ_INT(accepts(g, "ye"), 0); /* not complete */
    CHECK_EQ_INT(accepts(g, "yess"), 0);
    static const char cls[] = "root ::= [a-c0-9_] [^x-z]\n";
    CHECK_EQ_INT(accepts(cls, "b5"), 1);
    CHECK_EQ_INT(accepts(cls, "d5"), 0);
    CHECK_EQ_INT(accepts(cls, "_a"), 1);
    CHECK_EQ_INT(accepts(cls, "7w"), 1);
    CHECK_EQ_INT(accepts(cls, "7y"), 0);
    CHECK_EQ_INT(accepts("root ::= \"\\x41\\u00e9\\n\" .", "A\xc3\xa9\n\xe2\x82\xac"), 1);
}

TEST(grammar_repetitions_groups_and_rules)
{
    static const char g[] = "root ::= item (\",\" item)*\nitem ::= [0-9]+ | \"x\"?\n";
    CHECK_EQ_INT(accepts(g, "1,22,333"), 1);
    CHECK_EQ_INT(accepts(g, ",x,,5"), 1); /* item may be empty */
    CHECK_EQ_INT(accepts(g, "1;2"), 0);
    static const char counted[] = "root ::= \"a\"{2,4} \"b\"{3} \"c\"{1,}";
    CHECK_EQ_INT(accepts(counted, "aabbbc"), 1);
    CHECK_EQ_INT(accepts(counted, "aaaabbbccc"), 1);
    CHECK_EQ_INT(accepts(counted, "abbbc"), 0);
    CHECK_EQ_INT(accepts(counted, "aaaaabbbc"), 0);
    CHECK_EQ_INT(accepts(counted, "aabbc"), 0);
    /* right recursion and nesting */
    static const char nested[] = "root ::= \"(\" root \")\" | \"x\"\n";
    CHECK_EQ_INT(accepts(nested, "((x))"), 1);
    CHECK_EQ_INT(accepts(nested, "((x)"), 0);
}

TEST(grammar_json_object)
{
    CHECK_EQ_INT(
        accepts(GRAMMAR_JSON_OBJECT, "{\"a\": [1, -2.5e3, true, null, {\"b\": \"c\\n\"}]}"), 1);
    CHECK_EQ_INT(accepts(GRAMMAR_JSON_OBJECT, "{}"), 1);
    CHECK_EQ_INT(accepts(GRAMMAR_JSON_OBJECT, "[1]"), 0);
    CHECK_EQ_INT(accepts(GRAMMAR_JSON_OBJECT, "{\"a\": 01}"), 0);
    CHECK_EQ_INT(accepts(GRAMMAR_JSON_OBJECT, "{\"a\" 1}"), 0);
    CHECK_EQ_INT(accepts(GRAMMAR_JSON_OBJECT, "{\"a\": \"\x01\"}"), 0);
}

TEST(grammar_refuses_what_would_explode)
{
    CHECK(refused("root ::= root \"a\" | \"b\"", "left-recursive"));
    CHECK(refused("root ::= a\na ::= b? a \"x\"\nb ::= \"y\"", "left-recursive"));
    CHECK(refused("root ::= \"a\"{20000}", "over 10000"));
    /* a group repeats by reference (small); a long literal repeats by copy */
    char *big = malloc(512);
    snprintf(big, 512, "root ::= \"%0200d\"{10000}", 0);
    CHECK(refused(big, "too large"));
    free(big);
    CHECK(refused("root ::= undefined", "not defined"));
    CHECK(refused("item ::= \"a\"", "no rule named root"));
    CHECK(refused("root ::= \"a\"\nroot ::= \"b\"", "defined twice"));
    CHECK(refused("root ::= [", "unterminated"));
    CHECK(refused("root ::= []", "empty character class"));
    CHECK(refused("root ::= \"a", "unterminated string"));
    CHECK(refused("root ::= \"\\q\"", "unknown escape"));
    CHECK(refused("root ::= \"a\"{3,2}", "n < m"));
    char deep[256];
    snprintf(deep, sizeof deep, "root ::= %.70s\"a\"%.70s",
             "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
             "))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))");
    CHECK(refused(deep, "nested"));
}

/* Text nested deeper than the matcher's stacks is refused, not a crash. */
TEST(grammar_deep_text_is_bounded)
{
    enum { DEPTH = 1000 };
    char *text = malloc(2 * DEPTH + 2);
    memset(text, '(', DEPTH);
    text[DEPTH] = 'x';
    memset(text + DEPTH + 1, ')', DEPTH);
    text[2 * DEPTH + 1] = 0;
    CHECK_EQ_INT(accepts("root ::= \"(\" root \")\" | \"x\"", text), 0);
    free(text);
}
