"""The two-step output-score exchange (Arad et al. 2025) from a caller that owns the model.

numpy + urllib only. Runs as is against `deno task start` (the demo dictionary demo-topk and
its demo head); with a real model, replace `activation_at_hook` and `rest_of_model` with your
model's forward pass (e.g. a Hugging Face model: read the residual stream at the SAE's hook for
the neutral prompt "From my experience,", then patch the steered row back in at the last position
and read the next-token logits).
"""
import json
import urllib.request

import numpy as np

BASE = "http://localhost:8080/v1/dictionaries/demo-topk"


def post(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.load(res)


# Stand-ins for the caller's model (d_model 64, vocabulary 128 in the demo).
rng = np.random.default_rng(0)
W_U = rng.normal(size=(128, 64))


def activation_at_hook():
    """Residual stream at the SAE's hook, last position of the neutral prompt."""
    return np.sin(np.arange(64) * 0.7)


def rest_of_model(h):
    """Next-token logits after patching `h` into the last position."""
    return W_U @ (h / np.sqrt(np.mean(h * h) + 1e-6))


features = list(range(16))
# Step 1: saeserve adds 10 x (largest latent activation) to each feature, decodes, adds the error.
steered = np.array(post("/features/output-score/prepare",
                        {"activations": activation_at_hook().tolist(), "features": features})["activations"])
# Step 2: run the rest of the model on each steered row; send back the next-token logits.
logits = [rest_of_model(h).tolist() for h in steered]
scores = post("/features/output-score", {"features": features, "logits": logits})["scores"]
for s in sorted(scores, key=lambda s: -s["score"])[:5]:
    print(f"feature {s['feature']:3d}  output score {s['score']:.3f}  min rank {s['min_rank']:3d}  max prob {s['max_prob']:.3f}")
# Steer with the best one (f_i += 4 x max_j f_j on the last position), or export it for llama.cpp:
best = max(scores, key=lambda s: s["score"])["feature"]
h = activation_at_hook()
steered_h = np.array(post("/steer", {
    "activations": [h.tolist()],
    "interventions": [{"feature": best, "mode": "add", "value": 4, "relative": True}],
})["activations"][0])
top = np.argsort(-rest_of_model(steered_h))[:5]
print(f"steered with feature {best}: moved the hook's activation by {np.linalg.norm(steered_h - h):.3f}; "
      f"next-token top 5 now {top.tolist()} (before {np.argsort(-rest_of_model(h))[:5].tolist()})")
