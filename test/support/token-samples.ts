/**
 * One token of each masked shape (runtime/shared/token-shapes.ts, the providers' shapes included), for the
 * tests of the shapes' regexes, the runtime redactor and the agent logs' data-protection policy. A provider
 * with a new key shape adds its sample here; `tokenSample` names a shape that has none.
 */
const TOKEN_SAMPLES: Readonly<Record<string, string>> = {
  AnthropicApiKey: `sk-ant-api03-${'Ab1_'.repeat(20)}`,
  OpenAiApiKey: `sk-proj-${'aB3-'.repeat(12)}`,
  GoogleApiKey: `AIza${'x'.repeat(35)}`,
  GoogleOAuthAccessToken: `ya29.${'a0AfB'.repeat(8)}`,
  GoogleOAuthRefreshToken: `1//0${'gHd7'.repeat(10)}`,
  XaiApiKey: `xai-${'Zq9'.repeat(20)}`,
  OpenRouterApiKey: `sk-or-v1-${'0f'.repeat(32)}`,
  AnthropicTokenPrefix: 'sk-ant-oat01-abcdefgh',
  AwsAccessKeyId: 'AKIAABCDEFGHIJKLMNOP',
  GitHubToken: `ghp_${'a'.repeat(30)}`,
  GitHubFineGrainedToken: `github_pat_${'b'.repeat(40)}`,
  SlackToken: 'xoxb-1234567890-abcdef',
  JsonWebToken: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2ln',
  BearerToken: `Bearer ${'c'.repeat(24)}`,
  PrivateKeyBlock: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG\n-----END PRIVATE KEY-----',
};

/** The sample token of a shape; throws naming the shape when this file has none. */
export function tokenSample(shape: string): string {
  const sample = TOKEN_SAMPLES[shape];
  if (sample === undefined) throw new Error(`test/support/token-samples.ts has no sample for the token shape ${shape}`);
  return sample;
}
