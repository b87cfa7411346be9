import assert from "node:assert/strict";
import { encodeRfc3986, sha256Hex, signatureParts, signRequest } from "./sigv4.ts";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const SUITE = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
  service: "service",
};
const SUITE_DATE = new Date("2015-08-30T12:36:00Z");

const S3_DOCS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
  service: "s3",
};
const S3_DOCS_DATE = new Date("2013-05-24T00:00:00Z");

function signatureOf(headers: Headers): string {
  return /Signature=([0-9a-f]{64})$/.exec(headers.get("authorization") ?? "")?.[1] ?? "";
}

/** One case of AWS's aws-sig-v4-test-suite: the request, and its .creq / .sts / .authz files. */
interface SuiteCase {
  readonly name: string;
  readonly method: string;
  readonly target: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly sessionToken?: string;
  readonly creq: string;
  readonly sts: string;
  readonly authz: string;
}

const STS_TOKEN =
  "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp" +
  "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPky" +
  "QDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz" +
  "+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const HOST = "host:example.amazonaws.com\n";
const DATE = "x-amz-date:20150830T123600Z\n";
const SCOPE = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n";
const CREDENTIAL =
  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

const SUITE_CASES: SuiteCase[] = [
  {
    name: "get-vanilla",
    method: "GET",
    target: "/",
    creq: `GET\n/\n\n${HOST}${DATE}\nhost;x-amz-date\n${EMPTY_SHA256}`,
    sts: `${SCOPE}bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63`,
    authz: `${CREDENTIAL}SignedHeaders=host;x-amz-date, ` +
      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-query-order-key-case",
    method: "GET",
    target: "/?Param2=value2&Param1=value1",
    creq: `GET\n/\nParam1=value1&Param2=value2\n${HOST}${DATE}\nhost;x-amz-date\n${EMPTY_SHA256}`,
    sts: `${SCOPE}816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0`,
    authz: `${CREDENTIAL}SignedHeaders=host;x-amz-date, ` +
      "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    name: "get-header-value-trim",
    method: "GET",
    target: "/",
    headers: { "My-Header1": " value1", "My-Header2": ' "a   b   c"' },
    creq: `GET\n/\n\n${HOST}my-header1:value1\nmy-header2:"a b c"\n${DATE}\n` +
      `host;my-header1;my-header2;x-amz-date\n${EMPTY_SHA256}`,
    sts: `${SCOPE}a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7`,
    authz: `${CREDENTIAL}SignedHeaders=host;my-header1;my-header2;x-amz-date, ` +
      "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
  },
  {
    name: "post-vanilla",
    method: "POST",
    target: "/",
    creq: `POST\n/\n\n${HOST}${DATE}\nhost;x-amz-date\n${EMPTY_SHA256}`,
    sts: `${SCOPE}553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87`,
    authz: `${CREDENTIAL}SignedHeaders=host;x-amz-date, ` +
      "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "post-x-www-form-urlencoded",
    method: "POST",
    target: "/",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "Param1=value1",
    creq: `POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n${HOST}${DATE}\n` +
      "content-type;host;x-amz-date\n" +
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    sts: `${SCOPE}42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281`,
    authz: `${CREDENTIAL}SignedHeaders=content-type;host;x-amz-date, ` +
      "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-sts-header-before",
    method: "POST",
    target: "/",
    sessionToken: STS_TOKEN,
    creq: `POST\n/\n\n${HOST}${DATE}x-amz-security-token:${STS_TOKEN}\n\n` +
      `host;x-amz-date;x-amz-security-token\n${EMPTY_SHA256}`,
    sts: `${SCOPE}c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6`,
    authz: `${CREDENTIAL}SignedHeaders=host;x-amz-date;x-amz-security-token, ` +
      "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  },
];

for (const vector of SUITE_CASES) {
  Deno.test(`signatureParts matches aws-sig-v4-test-suite ${vector.name} (creq, sts, authz)`, async () => {
    const parts = await signatureParts(
      {
        method: vector.method,
        url: new URL(`https://example.amazonaws.com${vector.target}`),
        headers: new Headers(vector.headers),
        payloadHash: sha256Hex(new TextEncoder().encode(vector.body ?? "")),
      },
      { ...SUITE, sessionToken: vector.sessionToken },
      { date: SUITE_DATE },
    );
    assert.equal(parts.canonicalRequest, vector.creq);
    assert.equal(parts.stringToSign, vector.sts);
    assert.equal(parts.authorization, vector.authz);
    assert.equal(parts.headers.get("authorization"), vector.authz);
  });
}

Deno.test("signRequest reproduces the aws-sig-v4-test-suite get-vanilla signature", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://example.amazonaws.com/"),
      headers: new Headers(),
      payloadHash: EMPTY_SHA256,
    },
    SUITE,
    { date: SUITE_DATE },
  );
  assert.equal(
    headers.get("authorization"),
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
      "SignedHeaders=host;x-amz-date, " +
      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  );
  assert.equal(headers.get("x-amz-date"), "20150830T123600Z");
  assert.equal(headers.get("x-amz-content-sha256"), null, "only S3 sends the payload hash header");
  assert.equal(headers.get("host"), null, "host is signed but left for fetch to send");
});

Deno.test("signRequest of get-vanilla-query (empty query) equals get-vanilla", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://example.amazonaws.com/?"),
      headers: new Headers(),
      payloadHash: EMPTY_SHA256,
    },
    SUITE,
    { date: SUITE_DATE },
  );
  assert.equal(
    signatureOf(headers),
    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  );
});

Deno.test("signRequest reproduces the S3 documentation GET Object example with a Range", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
      headers: new Headers({ range: "bytes=0-9" }),
      payloadHash: EMPTY_SHA256,
    },
    S3_DOCS,
    { date: S3_DOCS_DATE },
  );
  assert.equal(
    headers.get("authorization"),
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
  assert.equal(headers.get("x-amz-content-sha256"), EMPTY_SHA256);
  assert.equal(headers.get("range"), "bytes=0-9");
});

Deno.test("signRequest reproduces the S3 documentation PUT Object example (escaped key)", async () => {
  const body = new TextEncoder().encode("Welcome to Amazon S3.");
  const payloadHash = sha256Hex(body);
  assert.equal(payloadHash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const headers = await signRequest(
    {
      method: "PUT",
      url: new URL(`https://examplebucket.s3.amazonaws.com/${encodeRfc3986("test$file.text")}`),
      headers: new Headers({
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
      }),
      payloadHash,
    },
    S3_DOCS,
    { date: S3_DOCS_DATE },
  );
  assert.equal(
    headers.get("authorization"),
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, " +
      "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
  );
});

Deno.test("signRequest reproduces the S3 documentation GET Bucket Lifecycle example", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/?lifecycle"),
      headers: new Headers(),
      payloadHash: EMPTY_SHA256,
    },
    S3_DOCS,
    { date: S3_DOCS_DATE },
  );
  assert.equal(
    signatureOf(headers),
    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
  );
});

Deno.test("signRequest reproduces the S3 documentation list objects example", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J"),
      headers: new Headers(),
      payloadHash: EMPTY_SHA256,
    },
    S3_DOCS,
    { date: S3_DOCS_DATE },
  );
  assert.equal(
    signatureOf(headers),
    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
  );
});

Deno.test("signRequest signs and sends a session token", async () => {
  const plain = await signRequest(
    {
      method: "GET",
      url: new URL("https://b.s3.amazonaws.com/k"),
      headers: new Headers(),
      payloadHash: "UNSIGNED-PAYLOAD",
    },
    S3_DOCS,
    { date: S3_DOCS_DATE },
  );
  const withToken = await signRequest(
    {
      method: "GET",
      url: new URL("https://b.s3.amazonaws.com/k"),
      headers: new Headers(),
      payloadHash: "UNSIGNED-PAYLOAD",
    },
    { ...S3_DOCS, sessionToken: "session-token-value" },
    { date: S3_DOCS_DATE },
  );
  assert.equal(withToken.get("x-amz-security-token"), "session-token-value");
  assert.match(
    withToken.get("authorization") ?? "",
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
  );
  assert.notEqual(signatureOf(plain), signatureOf(withToken));
  assert.equal(plain.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
});

Deno.test("signRequest never puts the secret key in any header", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: new URL("https://b.s3.amazonaws.com/k"),
      headers: new Headers(),
      payloadHash: EMPTY_SHA256,
    },
    S3_DOCS,
  );
  for (const [, value] of headers) assert.ok(!value.includes(S3_DOCS.secretAccessKey));
});

Deno.test("signatureParts encodes S3 paths once and other services' paths twice", async () => {
  const request = {
    method: "GET",
    url: new URL("https://example.amazonaws.com/a%20b/c"),
    headers: new Headers(),
    payloadHash: EMPTY_SHA256,
  };
  const s3 = await signatureParts(request, { ...SUITE, service: "s3" }, { date: SUITE_DATE });
  const other = await signatureParts(request, SUITE, { date: SUITE_DATE });
  assert.equal(s3.canonicalRequest.split("\n")[1], "/a%20b/c");
  assert.equal(other.canonicalRequest.split("\n")[1], "/a%2520b/c");
});

Deno.test("encodeRfc3986 escapes everything but unreserved characters, as UTF-8", () => {
  assert.equal(encodeRfc3986("a-b_c.d~e"), "a-b_c.d~e");
  assert.equal(encodeRfc3986("a b/c$d!'()*"), "a%20b%2Fc%24d%21%27%28%29%2A");
  assert.equal(encodeRfc3986("ß€"), "%C3%9F%E2%82%AC");
});
