/**
 * The CloudFormation custom-resource protocol for a Lambda function used directly as the service token:
 * CloudFormation waits (up to the resource's timeout) for a JSON document PUT to the request's presigned
 * S3 URL. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';

export type CustomResourceOutcome =
  | { readonly status: 'SUCCESS'; readonly physicalResourceId: string; readonly data?: Record<string, string | number> }
  | { readonly status: 'FAILED'; readonly physicalResourceId: string; readonly reason: string };

/** The response document (reasons are cut to stay far below the 4 KB response limit). */
export function responseBody(
  event: CloudFormationCustomResourceEvent,
  outcome: CustomResourceOutcome,
): CloudFormationCustomResourceResponse {
  const common = {
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  return outcome.status === 'SUCCESS'
    ? { ...common, Status: 'SUCCESS', Data: outcome.data }
    : { ...common, Status: 'FAILED', Reason: outcome.reason.slice(0, 1000) };
}

/**
 * PUTs the response; the presigned URL was signed for an empty content type. With node:http(s), loaded here:
 * the first `fetch` of a process loads undici (~30 ms), which the function would pay on every cold start.
 */
export async function sendResponse(
  event: CloudFormationCustomResourceEvent,
  outcome: CustomResourceOutcome,
): Promise<void> {
  const body = JSON.stringify(responseBody(event, outcome));
  const url = new URL(event.ResponseURL);
  const { request } = url.protocol === 'http:' ? await import('node:http') : await import('node:https');
  const status = await new Promise<number>((resolve, reject) => {
    const put = request(
      url,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume(); // the body says nothing we need
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    put.on('error', reject);
    put.end(body);
  });
  if (status < 200 || status > 299) throw new Error(`CloudFormation response URL answered ${status}`);
}
