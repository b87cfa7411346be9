/**
 * The Kubernetes manifests validate offline against the Kubernetes JSON schemas that the npm
 * package kubernetes-models (5.1.0, generated from the Kubernetes OpenAPI definitions) carries:
 * every resource of the base, and the base Deployment with the GPU overlay's patch merged in.
 * The kustomization files list exactly the resources and patches present.
 * @module
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";

type Doc = Record<string, unknown> & { kind?: string; apiVersion?: string };

const BASE = new URL("./base/", import.meta.url);
const GPU = new URL("./overlays/gpu/", import.meta.url);

function read(url: URL): Doc[] {
  return parseAllDocuments(Deno.readTextFileSync(url)).map((d) => d.toJSON() as Doc);
}

/** Validate one resource with the model of its apiVersion/kind (throws on a schema error). */
function validate(doc: Doc): void {
  const key = `${doc.apiVersion}/${doc.kind}`;
  switch (key) {
    case "v1/ConfigMap":
      return new ConfigMap(doc as never).validate();
    case "v1/Service":
      return new Service(doc as never).validate();
    case "apps/v1/Deployment":
      return new Deployment(doc as never).validate();
    case "policy/v1/PodDisruptionBudget":
      return new PodDisruptionBudget(doc as never).validate();
    case "autoscaling/v2/HorizontalPodAutoscaler":
      return new HorizontalPodAutoscaler(doc as never).validate();
    default:
      throw new Error(`no schema for ${key}`);
  }
}

/** A strategic-merge-like patch: objects merge, `containers` merge by name, the rest replaces. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (x: unknown) => (x as { name?: string }).name;
    if (base.every(named) && patch.every(named)) {
      const out = base.map((b) => {
        const p = patch.find((q) => named(q) === named(b));
        return p ? merge(b, p) : b;
      });
      return [...out, ...patch.filter((p) => !base.some((b) => named(b) === named(p)))];
    }
    return patch;
  }
  if (base && patch && typeof base === "object" && typeof patch === "object") {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
    return out;
  }
  return patch;
}

Deno.test("kubernetes: every base resource validates against the Kubernetes schemas", () => {
  const kustomization = read(new URL("kustomization.yaml", BASE))[0] as { resources: string[] };
  const files = [...Deno.readDirSync(BASE)].map((e) => e.name)
    .filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml").sort();
  assert.deepEqual([...kustomization.resources].sort(), files, "kustomization lists every file");
  const kinds = new Set<string>();
  for (const file of files) {
    for (const doc of read(new URL(file, BASE))) {
      assert.doesNotThrow(() => validate(doc), `${file}: ${doc.kind}`);
      kinds.add(String(doc.kind));
    }
  }
  for (const kind of ["Deployment", "Service", "ConfigMap", "PodDisruptionBudget"]) {
    assert.ok(kinds.has(kind), kind);
  }
});

Deno.test("kubernetes: the Deployment probes /healthz and /readyz, runs non-root on a read-only root", () => {
  const deployment = read(new URL("deployment.yaml", BASE))[0] as {
    spec: { template: { spec: Record<string, unknown> & { containers: Doc[] } } };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0] as Record<string, Record<string, unknown>>;
  const probePath = (p: string) =>
    ((container[p] as { httpGet?: { path?: string } }).httpGet ?? {}).path;
  assert.equal(probePath("livenessProbe"), "/healthz");
  assert.equal(probePath("readinessProbe"), "/readyz");
  const security = container.securityContext as Record<string, unknown>;
  assert.equal(security.readOnlyRootFilesystem, true);
  assert.equal(security.allowPrivilegeEscalation, false);
  const runsAsNonRoot = security.runAsNonRoot ??
    (pod.securityContext as Record<string, unknown> | undefined)?.runAsNonRoot;
  assert.equal(runsAsNonRoot, true);
  assert.ok(Number(pod.terminationGracePeriodSeconds) >= 10, "grace period for the drain");
  // The keys file the environment names must be there: an optional Secret crash-looped the pod.
  const env = (container.env as unknown as { name: string; value?: string }[]) ?? [];
  const keysFile = env.find((e) => e.name === "SAESERVE_API_KEYS_FILE")?.value;
  if (keysFile) {
    const volumes = pod.volumes as { name: string; secret?: { optional?: boolean } }[];
    const mounts = container.volumeMounts as unknown as { name: string; mountPath: string }[];
    const mount = mounts.find((m) => keysFile.startsWith(m.mountPath + "/"));
    const secret = volumes.find((v) => v.name === mount?.name)?.secret;
    assert.ok(secret, "SAESERVE_API_KEYS_FILE lies on a Secret volume");
    assert.notEqual(secret.optional, true, "the keys Secret is required");
  }
});

Deno.test("kubernetes: the GPU overlay's Deployment patch merges into a valid Deployment", () => {
  const kustomization = read(new URL("kustomization.yaml", GPU))[0] as {
    resources: string[];
    patches: { path?: string }[];
  };
  assert.deepEqual(kustomization.resources, ["../../base"]);
  const patchFile = kustomization.patches.find((p) => p.path)?.path;
  assert.ok(patchFile);
  const base = read(new URL("deployment.yaml", BASE))[0];
  const patched = merge(base, read(new URL(patchFile, GPU))[0]) as Doc;
  assert.doesNotThrow(() => validate(patched));
  const spec = (patched as { spec: { template: { spec: Record<string, unknown> } } }).spec.template
    .spec;
  const limits = ((spec.containers as Doc[])[0].resources as { limits: Record<string, unknown> })
    .limits;
  assert.equal(String(limits["nvidia.com/gpu"]), "1");
  assert.ok(spec.nodeSelector, "scheduled on GPU nodes");
});
