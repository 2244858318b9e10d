// An express-openid-connect relying party with its defaults, run as its own process (plain node):
// express-openid-connect is CommonJS and requires openid-client 6 (ESM), which Node >= 20.19 allows
// but Jest's module runtime does not before Node 24.9. Configured from the environment; prints
// `listening <port>` when ready. GET /claims shows the ID token claims (sign-in required), GET
// /step-up asks for an essential acr=aal2, GET /id-token-algs lists the alg of every ID token the
// RP accepted. Loopback only.
import { createServer } from 'node:http';
import express from 'express';
import expressOidc from 'express-openid-connect';

const { auth, requiresAuth } = expressOidc;
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const algs = [];
const app = express();
app.use(
  auth({
    issuerBaseURL: process.env.ISSUER,
    baseURL: base,
    clientID: process.env.CLIENT_ID,
    clientSecret: process.env.CLIENT_SECRET,
    secret: 'an express-openid-connect session secret of enough length',
    authRequired: false,
    enableTelemetry: false,
    // the only setting changed from the defaults: stepup serves the code flow (PKCE) only
    authorizationParams: { response_type: 'code' },
    afterCallback: (_req, _res, session) => {
      algs.push(JSON.parse(Buffer.from(session.id_token.split('.')[0], 'base64url').toString()).alg);
      return session;
    },
  }),
);
app.get('/claims', requiresAuth(), (req, res) => res.json(req.oidc.idTokenClaims));
app.get('/step-up', (_req, res) => res.oidc.login({ returnTo: '/claims', authorizationParams: { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['aal2'] } } }) } }));
app.get('/id-token-algs', (_req, res) => res.json(algs));
// express-openid-connect's errors (e.g. an ID token it refuses) as text, for the test to read
app.use((err, _req, res, _next) => res.status(err.status ?? 500).type('text').send(`${err.name}: ${err.message}`));
server.on('request', app);
process.stdout.write(`listening ${server.address().port}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
