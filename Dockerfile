# saeserve in a container: the service on the embedded demo store (mount or point
# SAESERVE_STORE elsewhere). Deno 2.9.6 comes from npm, as in the README.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
# Build the WASM kernels and cache every module at image build time.
RUN npx -y deno@2.9.6 task wasm && npx -y deno@2.9.6 cache main.ts cli/train.ts cli/probe_bench.ts
ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080
HEALTHCHECK CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["npx", "-y", "deno@2.9.6", "task", "start"]
