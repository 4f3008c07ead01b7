// Where a skinny product (matvec_t.comp, skinny_coop.comp) stores output
// (row, c) of its [M, N] result; included after their push constants
// (MatvecPush) and position binding. Row-major, or with a cache write
// (flag bit 7, kMatmulCacheWrite) into the KV cache [B, N / Dh, T, Dh] the
// output binding then holds: row r = b·seq + s, column c = h·Dh + d goes
// to [b, h, pos + s, d], pos being the row's position (one per batch row
// with flag bit 6). NO_SLOT where that position leaves no room for seq
// steps: nothing is stored, as kv_update.comp skips such a batch row (the
// host rejects it before submitting when it can read pos).
const uint NO_SLOT = 0xffffffffu;

// The position of output row `row` (its batch row's with flag bit 6).
int row_position(uint row, uint FLAGS) {
  return LOW_WORD(pos_words, (FLAGS & 64u) != 0u ? row / pc.seq : 0u);
}

// The slot with the row's position already read (`pos`: row_position).
uint output_slot_at(uint row, uint c, uint N, uint FLAGS, int pos) {
  if ((FLAGS & 128u) == 0u) return row * N + c;
  const uint b = row / pc.seq;
  if (pos < 0 || pos > int(pc.cache_len) - int(pc.seq)) return NO_SLOT;
  const uint heads = N / pc.head_dim;
  const uint h = c / pc.head_dim;
  return ((b * heads + h) * pc.cache_len + uint(pos) + row % pc.seq) * pc.head_dim +
         c % pc.head_dim;
}

uint output_slot(uint row, uint c, uint N, uint FLAGS) {
  return output_slot_at(row, c, N, FLAGS, (FLAGS & 128u) != 0u ? row_position(row, FLAGS) : 0);
}
