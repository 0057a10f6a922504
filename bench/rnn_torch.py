"""One language-model benchmark run in PyTorch, printed as one JSON line: the
book's chapter 8-9 training (The Time Machine, first 10,000 characters, batch
32, 35 steps, 256 hidden units, SGD lr 1, gradient clipping at norm 1,
sequential partitioning with the state carried over, detached) of nn.RNN,
nn.GRU or nn.LSTM, as d2l's train_ch8 does it. Run by bench/rnn.js; by hand:

    /usr/bin/python3 bench/rnn_torch.py --model gru --epochs 2 --data ../shared/data/timemachine.txt
"""
import argparse
import json
import resource
import math
import random
import re
import time
from collections import Counter

import torch
from torch import nn
from torch.nn import functional as F


def corpus_and_vocab(path, max_tokens):
    """Characters of the text (non-letters as one space, lower case), indexed by falling frequency after <unk>."""
    with open(path) as f:
        lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in f]
    chars = [c for line in lines for c in line]
    counts = Counter(chars)
    tokens = ["<unk>"] + [t for t, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
    index = {t: i for i, t in enumerate(tokens)}
    corpus = [index[c] for c in chars]
    return corpus[:max_tokens] if max_tokens > 0 else corpus, tokens, index


def sequential_batches(corpus, batch_size, num_steps):
    """Rows of the corpus from a random offset; batch i is columns i*num_steps..(i+1)*num_steps of every row."""
    offset = random.randint(0, num_steps)
    row = (len(corpus) - offset - 1) // batch_size
    xs = torch.tensor(corpus[offset: offset + row * batch_size]).reshape(batch_size, row)
    ys = torch.tensor(corpus[offset + 1: offset + 1 + row * batch_size]).reshape(batch_size, row)
    for i in range(0, (row // num_steps) * num_steps, num_steps):
        yield xs[:, i: i + num_steps], ys[:, i: i + num_steps]


class LanguageModel(nn.Module):
    """One-hot inputs, a recurrent layer, a linear output at every step (the book's RNNModel)."""

    def __init__(self, layer, vocab_size):
        super().__init__()
        self.rnn, self.vocab_size = layer, vocab_size
        self.linear = nn.Linear(layer.hidden_size, vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size).float()  # time first
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape(-1, Y.shape[-1])), state

    def begin_state(self, batch_size):
        zeros = torch.zeros(self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        return (zeros, zeros.clone()) if isinstance(self.rnn, nn.LSTM) else zeros


def predict(prefix, num_preds, net, tokens, index):
    state = net.begin_state(1)
    out = [index[prefix[0]]]
    with torch.no_grad():
        for c in prefix[1:]:
            _, state = net(torch.tensor([[out[-1]]]), state)
            out.append(index[c])
        for _ in range(num_preds):
            y, state = net(torch.tensor([[out[-1]]]), state)
            out.append(int(y.argmax(dim=1)))
    return "".join(tokens[i] for i in out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="gru", choices=["rnn", "gru", "lstm"])
    p.add_argument("--epochs", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", required=True, help="path of timemachine.txt")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    batch_size, num_steps, num_hiddens, lr, max_tokens = 32, 35, 256, 1.0, 10000
    corpus, tokens, index = corpus_and_vocab(a.data, max_tokens)
    V = len(tokens)
    layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[a.model](V, num_hiddens)
    net = LanguageModel(layer, V)
    opt = torch.optim.SGD(net.parameters(), lr)
    loss = nn.CrossEntropyLoss()
    seconds, tokens_seen, ppl = 0.0, 0, float("nan")
    for _ in range(a.epochs):
        state, total, n = None, 0.0, 0
        for X, Y in sequential_batches(corpus, batch_size, num_steps):
            t0 = time.perf_counter()
            if state is None:
                state = net.begin_state(X.shape[0])
            elif isinstance(state, tuple):
                state = tuple(s.detach() for s in state)
            else:
                state = state.detach()
            y_hat, state = net(X, state)
            l = loss(y_hat, Y.T.reshape(-1))
            opt.zero_grad()
            l.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            value = l.item()
            seconds += time.perf_counter() - t0
            total += value * Y.numel()
            n += Y.numel()
        tokens_seen += n
        ppl = math.exp(total / n)
    print(json.dumps({
        "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # peak resident memory (KiB on Linux)
        "backend": "pytorch", "threads": torch.get_num_threads(), "model": a.model, "epochs": a.epochs,
        "perplexity": ppl, "tokensPerSec": tokens_seen / seconds, "seconds": seconds,
        "prediction": predict("time traveller", 50, net, tokens, index), "torchVersion": torch.__version__,
    }))


if __name__ == "__main__":
    main()
