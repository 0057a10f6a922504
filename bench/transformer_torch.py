"""The PyTorch twin of bench/transformer.js: the book's Transformer (d2l-zh
10.7) trained on the data bench/transformer.js dumped, printed as one JSON
line.

The model is the book's own PyTorch code, taken from the committed fixture
script test/fixtures/torch/transformer.py (its classes, not its cases:
TransformerEncoder, TransformerDecoder and their blocks, with
MultiHeadAttention and PositionalEncoding from attention.py next to it), the
same code the unit tests compare lib/nn/transformer.ts with. Training is the
book's train_seq2seq, as d2l.trainSeq2seq does it: Xavier-uniform weights for
every nn.Linear; Adam; teacher forcing with <bos>; the masked softmax
cross-entropy summed over the batch and differentiated; gradients clipped to
norm 1. After training, greedy translation (the book's predict_seq2seq) of
the source rows the data file lists, returned as strings for
bench/transformer.js to score with d2l.bleu. By hand:

    /usr/bin/python3 bench/transformer_torch.py --data /tmp/data.json --epochs 1 --threads 1
"""
import argparse
import json
import resource
import os
import time

import torch
from torch import nn

# the book's MaskedSoftmaxCELoss and xavier_init_weights, as the seq2seq benchmark has them
from seq2seq_torch import masked_ce, xavier

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_HIDDENS, NUM_LAYERS, DROPOUT, BATCH, LR = 32, 2, 0.1, 64, 0.005
FFN_NUM_INPUT, FFN_NUM_HIDDENS, NUM_HEADS = 32, 64, 4
KEY_SIZE, QUERY_SIZE, VALUE_SIZE = 32, 32, 32
NORM_SHAPE = [32]


def book_classes():
    """The fixture script's model code (everything before its "# ---- cases ----"), without running its cases."""
    fixture = os.path.join(HERE, "..", "test", "fixtures", "torch", "transformer.py")
    with open(fixture) as f:
        src = f.read().split("\n# ---- cases ----\n")[0]
    ns = {"__file__": fixture, "__name__": "transformer_fixture"}
    exec(compile(src, fixture, "exec"), ns)
    return ns


class EncoderDecoder(nn.Module):
    """The book's EncoderDecoder (9.6)."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, dec_state)


def predict(net, src_row, src_valid, bos, eos, num_steps):
    """The book's predict_seq2seq, greedy, on an already indexed and padded source row; returns token indices."""
    net.eval()
    with torch.no_grad():
        enc_X = torch.tensor([src_row], dtype=torch.long)
        enc_valid_len = torch.tensor([src_valid])
        enc_outputs = net.encoder(enc_X, enc_valid_len)
        dec_state = net.decoder.init_state(enc_outputs, enc_valid_len)
        dec_X = torch.tensor([[bos]], dtype=torch.long)
        out = []
        for _ in range(num_steps):
            Y, dec_state = net.decoder(dec_X, dec_state)
            dec_X = Y.argmax(dim=2)
            pred = int(dec_X.squeeze(0).item())
            if pred == eos:
                break
            out.append(pred)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(a.threads)
    book = book_classes()
    torch.manual_seed(0)
    with open(a.data) as f:
        d = json.load(f)
    T = d["numSteps"]
    src = torch.tensor(d["src"], dtype=torch.long).reshape(-1, T)
    src_valid = torch.tensor(d["srcValid"])
    tgt = torch.tensor(d["tgt"], dtype=torch.long).reshape(-1, T)
    tgt_valid = torch.tensor(d["tgtValid"])
    encoder = book["TransformerEncoder"](d["srcVocabSize"], KEY_SIZE, QUERY_SIZE, VALUE_SIZE, NUM_HIDDENS, NORM_SHAPE,
                                         FFN_NUM_INPUT, FFN_NUM_HIDDENS, NUM_HEADS, NUM_LAYERS, DROPOUT)
    decoder = book["TransformerDecoder"](d["tgtVocabSize"], KEY_SIZE, QUERY_SIZE, VALUE_SIZE, NUM_HIDDENS, NORM_SHAPE,
                                         FFN_NUM_INPUT, FFN_NUM_HIDDENS, NUM_HEADS, NUM_LAYERS, DROPOUT)
    net = EncoderDecoder(encoder, decoder)
    net.apply(xavier)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    n = src.shape[0]
    seconds, tokens, losses = 0.0, 0, []
    for _ in range(a.epochs):
        net.train()
        order = torch.randperm(n)
        loss_sum, epoch_tokens = 0.0, 0
        t0 = time.perf_counter()
        for b in range(0, n, BATCH):
            idx = order[b:b + BATCH]
            X, X_valid, Y, Y_valid = src[idx], src_valid[idx], tgt[idx], tgt_valid[idx]
            opt.zero_grad()
            bos = torch.full((Y.shape[0], 1), d["bos"], dtype=torch.long)
            dec_input = torch.cat([bos, Y[:, :-1]], 1)  # teacher forcing
            Y_hat, _ = net(X, dec_input, X_valid)
            l = masked_ce(Y_hat, Y, Y_valid)
            l.sum().backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                loss_sum += l.sum().item()
                epoch_tokens += int(Y_valid.sum())
        seconds += time.perf_counter() - t0
        tokens += epoch_tokens
        losses.append(loss_sum / epoch_tokens)
    translations = []
    for row, valid in zip(d["evalSrc"], d["evalSrcValid"]):
        out = predict(net, row, valid, d["bos"], d["eos"], T)
        translations.append(" ".join(d["tgtTokens"][i] for i in out))
    print(json.dumps({
        "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # peak resident memory (KiB on Linux)
        "backend": "pytorch", "threads": torch.get_num_threads(), "epochs": a.epochs, "params": params,
        "tokensPerSec": tokens / seconds, "loss": losses[-1], "firstLoss": losses[0],
        "trainSeconds": seconds, "wall": time.perf_counter() - start,
        "translations": translations, "torchVersion": torch.__version__,
    }))


if __name__ == "__main__":
    main()
