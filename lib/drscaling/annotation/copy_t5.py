"""A T5 with a copy mechanism: the query generator trained here (:mod:`.generator`) can copy
passage tokens as docT5query's queries often do."""

from __future__ import annotations

_COPY_CLASSES = None


def copy_t5_classes():
    """(CopyT5Config, CopyT5ForConditionalGeneration), registered with transformers' Auto
    classes as model type ``t5-copy`` so that a saved generator loads with
    ``AutoModelForSeq2SeqLM`` (built on first use: transformers is slow to import).

    The model's next-token distribution is ``g * softmax(lm_logits) + (1 - g) * copy``, where
    ``copy`` puts the last decoder layer's cross-attention (mean over heads) on the passage's
    token ids and the gate ``g = sigmoid(w . [decoder state, attended encoder state] + b)``.
    Its ``logits`` are the log of that distribution, so that ``generate`` (greedy, top-k,
    temperature) and the cross-entropy work on it unchanged; ``generate`` hands the passage's
    ids to every decoding step as ``source_ids``.
    """
    global _COPY_CLASSES
    if _COPY_CLASSES is not None:
        return _COPY_CLASSES
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration
    from transformers.modeling_outputs import Seq2SeqLMOutput

    class CopyT5Config(T5Config):
        model_type = "t5-copy"

    class CopyT5ForConditionalGeneration(T5ForConditionalGeneration):
        config_class = CopyT5Config

        def __init__(self, config):
            config._attn_implementation = "eager"  # the copy needs the attention weights, which sdpa does not give
            super().__init__(config)
            self.copy_gate = torch.nn.Linear(2 * config.d_model, 1)
            self.post_init()

        def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, encoder_outputs=None,
                    past_key_values=None, labels=None, source_ids=None, use_cache=None, **kwargs):
            source_ids = input_ids if source_ids is None else source_ids
            if source_ids is None:
                raise ValueError("the copy mechanism needs the passage's token ids (input_ids or source_ids)")
            if labels is not None and decoder_input_ids is None:
                decoder_input_ids = self._shift_right(labels)
            for key in ("output_attentions", "output_hidden_states", "return_dict"):
                kwargs.pop(key, None)
            out = super().forward(input_ids=input_ids, attention_mask=attention_mask,
                                  decoder_input_ids=decoder_input_ids, encoder_outputs=encoder_outputs,
                                  past_key_values=past_key_values, use_cache=use_cache, output_attentions=True,
                                  output_hidden_states=True, return_dict=True, **kwargs)
            attention = out.cross_attentions[-1].mean(dim=1)  # (batch, target, source)
            state = out.decoder_hidden_states[-1]
            context = attention @ out.encoder_last_hidden_state
            gate = torch.sigmoid(self.copy_gate(torch.cat([state, context], dim=-1)))
            copied = torch.zeros_like(out.logits).scatter_add_(
                2, source_ids.unsqueeze(1).expand(-1, attention.shape[1], -1), attention)
            probs = gate * torch.softmax(out.logits, dim=-1) + (1 - gate) * copied
            logits = torch.log(probs.clamp_min(1e-12))
            loss = None
            if labels is not None:
                loss = torch.nn.functional.nll_loss(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                    ignore_index=-100)
            return Seq2SeqLMOutput(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                   encoder_last_hidden_state=out.encoder_last_hidden_state)

        def generate(self, input_ids=None, **kwargs):
            return super().generate(input_ids=input_ids, source_ids=input_ids, **kwargs)

    AutoConfig.register("t5-copy", CopyT5Config, exist_ok=True)
    AutoModelForSeq2SeqLM.register(CopyT5Config, CopyT5ForConditionalGeneration, exist_ok=True)
    _COPY_CLASSES = (CopyT5Config, CopyT5ForConditionalGeneration)
    return _COPY_CLASSES
