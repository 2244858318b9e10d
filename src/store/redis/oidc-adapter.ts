import type { Redis } from 'ioredis';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider's storage for every short-lived model (sessions, interactions, codes, tokens, grants…)
 * in Redis. One HASH per record (`payload` JSON, plus `consumed` once consumed), so every model has the
 * same layout and consume() works for all consumable models, PAR included.
 *
 * oidc-provider reads `consumed`, then calls consume() and ignores its result: a naive consume lets two
 * parallel redemptions of one code both mint tokens. consume() here is one Lua script that only one
 * caller can win, and the losers throw InvalidGrant before any token exists.
 */
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`;

// Extends a set's TTL so it never expires before the record just added to it (never shortens it).
const EXTEND_TTL = `
local ttl = redis.call('TTL', KEYS[1])
local want = tonumber(ARGV[1])
if ttl < want then redis.call('EXPIRE', KEYS[1], want) end
return 1
`;

// Resume rotates a session's id: destroy(old) may run after upsert(new); only delete an index still pointing at us.
const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface RedisAdapterOptions {
  prefix: string;
}

export function createRedisAdapterFactory(redis: Redis, { prefix }: RedisAdapterOptions) {
  const grantKey = (grantId: string) => `${prefix}grant:${grantId}`;
  const uidKey = (uid: string) => `${prefix}sessionUid:${uid}`;
  const userCodeKey = (userCode: string) => `${prefix}userCode:${userCode}`;

  return (model: string): Adapter => {
    const key = (id: string) => `${prefix}${model}:${id}`;

    async function find(id: string): Promise<AdapterPayload | undefined> {
      const data = await redis.hgetall(key(id));
      if (!data || !data.payload) return undefined; // a missing hash reads back as {}
      const payload = JSON.parse(data.payload) as AdapterPayload;
      if (data.consumed) payload.consumed = Number(data.consumed);
      return payload;
    }

    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        const k = key(id);
        const ttl = typeof expiresIn === 'number' && expiresIn > 0 ? Math.ceil(expiresIn) : undefined;
        const multi = redis.multi();
        multi.del(k); // replace: a stale `consumed` must not survive an upsert
        multi.hset(k, 'payload', JSON.stringify(payload));
        if (ttl) multi.expire(k, ttl);
        if (payload.grantId) multi.sadd(grantKey(payload.grantId), k);
        if (model === 'Session' && payload.uid) {
          if (ttl) multi.set(uidKey(payload.uid), id, 'EX', ttl);
          else multi.set(uidKey(payload.uid), id);
        }
        if (payload.userCode) {
          if (ttl) multi.set(userCodeKey(payload.userCode), id, 'EX', ttl);
          else multi.set(userCodeKey(payload.userCode), id);
        }
        const results = await multi.exec();
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0];
        // after the MULTI (the in-process store has no EVAL inside MULTI); the set is only an index
        if (payload.grantId && ttl) await redis.eval(EXTEND_TTL, 1, grantKey(payload.grantId), ttl);
      },

      find,

      async findByUid(uid: string) {
        const id = await redis.get(uidKey(uid));
        return id ? find(id) : undefined;
      },

      async findByUserCode(userCode: string) {
        const id = await redis.get(userCodeKey(userCode));
        return id ? find(id) : undefined;
      },

      async consume(id: string) {
        const won = await redis.eval(CONSUME, 1, key(id), Math.floor(Date.now() / 1000));
        if (won !== 1) throw new errors.InvalidGrant('grant request is invalid (already used)');
      },

      async destroy(id: string) {
        const k = key(id);
        if (model === 'Session') {
          const data = await redis.hget(k, 'payload');
          const uid = data ? (JSON.parse(data) as AdapterPayload).uid : undefined;
          await redis.del(k);
          if (uid) await redis.eval(DELETE_IF_EQUALS, 1, uidKey(uid), id);
          return;
        }
        await redis.del(k);
      },

      async revokeByGrantId(grantId: string) {
        const members = await redis.smembers(grantKey(grantId));
        const multi = redis.multi();
        for (const member of members) multi.del(member);
        multi.del(grantKey(grantId));
        await multi.exec();
      },
    };
  };
}
