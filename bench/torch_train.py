"""PyTorch CPU training loop equivalent to saeserve's TopK trainer, for bench/train_vs_torch.ts.

TopK SAE (x - b_dec) @ W_enc + b_enc -> topk(k) -> relu -> sparse decode (gathered decoder rows)
+ b_dec, MSE loss, autograd backward, Adam, decoder rows renormalized. All cores. Prints one
JSON line: {"rows_per_s", "step_ms", "threads"}.
"""
import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--d-in", type=int, default=768)
p.add_argument("--latents", type=int, default=16384)
p.add_argument("--k", type=int, default=32)
p.add_argument("--batch", type=int, default=4096)
p.add_argument("--steps", type=int, default=5)
a = p.parse_args()
torch.manual_seed(0)
w_dec = torch.nn.functional.normalize(torch.randn(a.latents, a.d_in), dim=1)
params = {
    "w_enc": w_dec.T.clone().requires_grad_(),
    "b_enc": torch.zeros(a.latents, requires_grad=True),
    "w_dec": w_dec.clone().requires_grad_(),
    "b_dec": torch.zeros(a.d_in, requires_grad=True),
}
opt = torch.optim.Adam(params.values(), lr=4e-4)
pool = torch.randn(a.batch * 2, a.d_in)


def step(i):
    x = pool[(i % 2) * a.batch:(i % 2 + 1) * a.batch]
    pre = (x - params["b_dec"]) @ params["w_enc"] + params["b_enc"]
    vals, idx = torch.topk(pre, a.k, dim=-1)
    vals = torch.relu(vals)
    recon = (vals.unsqueeze(-1) * params["w_dec"][idx]).sum(1) + params["b_dec"]
    loss = ((recon - x) ** 2).sum(-1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        params["w_dec"].data = torch.nn.functional.normalize(params["w_dec"].data, dim=1)


step(0)
t0 = time.perf_counter()
for i in range(a.steps):
    step(i + 1)
dt = (time.perf_counter() - t0) / a.steps
print(json.dumps({"rows_per_s": a.batch / dt, "step_ms": dt * 1e3, "threads": torch.get_num_threads()}))
