/** The answer to a CloudFormation custom resource request: a PUT of the result to the request's pre-signed ResponseURL. */

export interface CfnResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

export type Respond = (responseUrl: string, response: CfnResponse) => Promise<void>;

/** PUTs the response (no content type: the URL is signed without one); throws unless S3 accepts it. */
export const respondOverHttps: Respond = async (responseUrl, response) => {
  const body = JSON.stringify(response);
  const res = await fetch(responseUrl, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`CloudFormation response not accepted: HTTP ${res.status} ${await res.text()}`);
};
