import type { ErrorOut } from 'oidc-provider';

/**
 * Words for people when a protocol request cannot be redirected back to the app (unknown client,
 * unregistered redirect_uri, expired interaction). The OIDC error code is shown too, for support.
 */
const MESSAGES: Record<string, string> = {
  invalid_client: 'This application is not registered with stepup.',
  invalid_redirect_uri: 'The application sent you to an address it has not registered. For your safety you were not sent back.',
  invalid_request: 'The application sent an invalid sign-in request.',
  session_not_found: 'Your sign-in took too long or was opened in another browser. Go back to the application and try again.',
  invalid_request_uri: 'The sign-in request has expired. Go back to the application and try again.',
};

export function describeProtocolError(out: ErrorOut, error: unknown): { message: string; status: number } {
  const given = (error as { status?: number } | undefined)?.status;
  const status = out.error === 'server_error' ? 500 : typeof given === 'number' ? given : 400;
  const message =
    MESSAGES[out.error] ??
    (status >= 500 ? 'stepup could not complete the request. Try again in a moment.' : 'The sign-in request could not be completed.');
  return { message, status: status >= 500 ? 500 : status };
}
