/**
 * Runs the Python client's unittest suite (clients/python/tests) against two spawned services
 * with the demo store: a plain one ($SAESERVE_URL) and one with a one-row batching queue that
 * answers concurrent steers 429 ($SAESERVE_BUSY_URL, for the retry tests). Ignored, with the
 * reason, when no Python with numpy is found ($SAESERVE_PYTHON, python3, /usr/bin/python3); the
 * PyTorch hook tests skip themselves without torch.
 * @module
 */

import assert from "node:assert/strict";
import { startDemoService } from "../../tests/busy_service.ts";

const here = new URL(".", import.meta.url).pathname;

/** Run `python -c code`; whether it exited 0 (false when it cannot be started). */
async function runs(python: string, code: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", code],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** The first Python with numpy, preferring one that also has torch. */
async function findPython(): Promise<{ python?: string; torch: boolean }> {
  const candidates = [
    Deno.env.get("SAESERVE_PYTHON"),
    "python3",
    "/usr/bin/python3",
  ]
    .filter((p): p is string => !!p);
  let numpyOnly: string | undefined;
  for (const python of candidates) {
    if (await runs(python, "import numpy, torch")) {
      return { python, torch: true };
    }
    if (!numpyOnly && await runs(python, "import numpy")) numpyOnly = python;
  }
  return { python: numpyOnly, torch: false };
}

const found = await findPython();
if (!found.python) {
  console.warn(
    "python_client_test: no python3 with numpy found: the Python client tests are ignored",
  );
} else if (!found.torch) {
  console.warn(
    `python_client_test: ${found.python} has no torch: the PyTorch hook tests skip`,
  );
}

Deno.test({
  name: "Python client: unittest suite against the service",
  ignore: !found.python,
  async fn() {
    const [service, busy] = await Promise.all([
      startDemoService(),
      startDemoService({ busy: true }),
    ]);
    try {
      const out = await new Deno.Command(found.python!, {
        args: ["-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd: here,
        env: {
          SAESERVE_URL: service.url,
          SAESERVE_BUSY_URL: busy.url,
          PYTHONPATH: here,
          PYTHONDONTWRITEBYTECODE: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `python -m unittest failed:\n${text}`);
      assert.match(text, /\nOK\b/, `unexpected unittest output:\n${text}`);
      console.log(
        `${found.python}: ${text.trim().split("\n").slice(-3).join(" ")}`,
      );
    } finally {
      await Promise.all([service.stop(), busy.stop()]);
    }
  },
});
