"""The seeded random Llama that the checkpoint scripts (llama-transformers-check.py,
b14-checkpoint-start.py) save and run: grouped-query attention at the GPU
reference size (8 layers, hidden 2048, 16 heads, 4 KV heads, intermediate
8192, vocab 32000) or, with quick, a tiny one that only checks the scripts.
Needs torch and transformers (dev-side tools; nothing of rtscope's product
runs Python).
"""


def seeded_llama(quick):
    """A float32 LlamaForCausalLM from seed 0, and its sizes as a dict of
    LlamaConfig fields."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if quick:
        sizes = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                     num_attention_heads=8, num_key_value_heads=2, vocab_size=512)
    else:
        sizes = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=8,
                     num_attention_heads=16, num_key_value_heads=4, vocab_size=32000)
    config = LlamaConfig(**sizes, max_position_embeddings=1024, rope_theta=500000.0,
                         rms_norm_eps=1e-5, tie_word_embeddings=False)
    return LlamaForCausalLM(config), sizes
