/*
 * residency.c - what of a model stays in RAM: the file pages whose
 * contents were repacked or requantized are released, and --mlock locks
 * the weights a pass reads.
 */
#include "kernels/grouped.h"
#include "load.h"
#include "names.h"
#include "runtime/errors.h"
#include "runtime/platform.h"

/* Mapped file bytes [p, p + n) whose contents now live elsewhere
 * (repacked to QK256, or requantized) leave the resident set: the kernel
 * reads them again from the file should they be touched. Only the whole
 * pages inside the range, and only for a file mapping: a caller's buffer
 * (gguf_open_memory) or a copy (--no-mmap) would lose its contents. */
void bn_release_pages(const bn_model *m, const uint8_t *p, size_t n)
{
    if (m->file->path && !m->file->copied) bn_file_release_pages(p, n);
}

/* bn_release_pages over a tensor's bytes. */
void bn_release_tensor_pages(const bn_model *m, const gguf_tensor *t)
{
    bn_release_pages(m, t->data, (size_t)t->n_bytes);
}

/* Locks [p, p + n) in RAM (--mlock); 0, or -1 with err saying why. */
static int lock_range(const void *p, size_t n, size_t total, char *err)
{
    char why[BN_ERR_LEN];
    if (!bn_lock_pages(p, n, why, sizeof why)) return 0;
    return bn_errf(err, "cannot lock %.1f MiB of weights in RAM (--mlock): %s",
                   (double)total / BN_BYTES_PER_MIB, why);
}

/* --mlock: the weights a pass reads stay in RAM. The repacked codes (and a
 * requantized output layer) live in the arena, matrices that did not fit
 * it on the heap; the embedding and an output layer kept in the file's
 * type are read from the file's pages. (The norms are a few KiB.) */
int bn_lock_weights(const bn_model *m, char *err)
{
    const size_t file_bytes = m->tok_embd.row_bytes * (size_t)m->tok_embd.rows +
                              (m->output.data != m->tok_embd.data && !m->output.owned
                                   ? m->output.row_bytes * (size_t)m->output.rows
                                   : 0);
    const size_t total = m->weights.used + file_bytes;
    if (lock_range(m->weights.base, m->weights.used, total, err)) return -1;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++) {
            const qk256_matrix *w = bn_layer_proj(&m->layers[il], i);
            if (!w->codes_in_arena &&
                lock_range(w->codes, qk256_codes_bytes(w->rows, w->cols), total, err))
                return -1;
            if (w->bits && !w->bits_in_arena &&
                lock_range(w->bits, bn_bits_bytes(w->rows, w->cols), total, err))
                return -1;
        }
    if (lock_range(m->tok_embd.data, m->tok_embd.row_bytes * (size_t)m->tok_embd.rows, total, err))
        return -1;
    if (m->output.data == m->tok_embd.data) return 0;
    return lock_range(m->output.data, m->output.row_bytes * (size_t)m->output.rows, total, err);
}
