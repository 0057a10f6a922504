"""The PyTorch twin of bench/seq2seq.js: the book's seq2seq (d2l.ai 9.7) trained
on the data bench/seq2seq.js dumped, printed as one JSON line.

Same model and training as d2l.trainSeq2seq: embedding, 2-layer GRU encoder;
decoder with the encoder's last output as context concatenated to every
step, 2-layer GRU from the encoder's final state, dense; Xavier-uniform
weights for linear and GRU layers; Adam; teacher forcing with <bos>; the
masked softmax cross-entropy summed over the batch and differentiated;
gradients clipped to norm 1. By hand:

    /usr/bin/python3 bench/seq2seq_torch.py --data /tmp/data.json --epochs 1 --threads 2
"""
import argparse
import json
import resource
import time

import torch
from torch import nn

EMBED, HIDDEN, LAYERS, DROPOUT, BATCH, LR = 32, 32, 2, 0.1, 64, 0.005


class Encoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBED)
        self.rnn = nn.GRU(EMBED, HIDDEN, LAYERS, dropout=DROPOUT)

    def forward(self, X):
        return self.rnn(self.embedding(X.t()))  # outputs (steps, batch, hidden), state (layers, batch, hidden)


class Decoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBED)
        self.rnn = nn.GRU(EMBED + HIDDEN, HIDDEN, LAYERS, dropout=DROPOUT)
        self.dense = nn.Linear(HIDDEN, vocab)

    def forward(self, X, state):
        enc_output, hidden = state
        embs = self.embedding(X.t())
        context = enc_output[-1].repeat(embs.shape[0], 1, 1)
        outputs, hidden = self.rnn(torch.cat((embs, context), -1), hidden)
        return self.dense(outputs).swapaxes(0, 1), [enc_output, hidden]


def sequence_mask(X, valid_len):
    mask = torch.arange(X.size(1), device=X.device)[None, :] < valid_len[:, None]
    return X * mask


def masked_ce(pred, label, valid_len):
    unweighted = nn.functional.cross_entropy(pred.permute(0, 2, 1), label, reduction="none")
    return sequence_mask(unweighted, valid_len).mean(dim=1)


def xavier(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
    if isinstance(m, nn.GRU):
        for name in m._flat_weights_names:
            if "weight" in name:
                nn.init.xavier_uniform_(m._parameters[name])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.data) as f:
        d = json.load(f)
    T = d["numSteps"]
    src = torch.tensor(d["src"], dtype=torch.long).reshape(-1, T)
    tgt = torch.tensor(d["tgt"], dtype=torch.long).reshape(-1, T)
    tgt_valid = torch.tensor(d["tgtValid"])
    encoder, decoder = Encoder(d["srcVocabSize"]), Decoder(d["tgtVocabSize"])
    encoder.apply(xavier)
    decoder.apply(xavier)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    encoder.train()
    decoder.train()
    n = src.shape[0]
    seconds, tokens, losses = 0.0, 0, []
    for _ in range(a.epochs):
        order = torch.randperm(n)
        loss_sum, epoch_tokens = 0.0, 0
        t0 = time.perf_counter()
        for b in range(0, n, BATCH):
            idx = order[b:b + BATCH]
            X, Y, Y_valid = src[idx], tgt[idx], tgt_valid[idx]
            opt.zero_grad()
            bos = torch.full((Y.shape[0], 1), d["bos"], dtype=torch.long)
            dec_input = torch.cat([bos, Y[:, :-1]], 1)
            Y_hat, _ = decoder(dec_input, encoder(X))
            l = masked_ce(Y_hat, Y, Y_valid)
            l.sum().backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            with torch.no_grad():
                loss_sum += l.sum().item()
                epoch_tokens += int(Y_valid.sum())
        seconds += time.perf_counter() - t0
        tokens += epoch_tokens
        losses.append(loss_sum / epoch_tokens)
    print(json.dumps({
        "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # peak resident memory (KiB on Linux)
        "backend": "pytorch", "threads": torch.get_num_threads(), "epochs": a.epochs,
        "tokensPerSec": tokens / seconds, "loss": losses[-1], "firstLoss": losses[0],
        "torchVersion": torch.__version__,
    }))


if __name__ == "__main__":
    main()
