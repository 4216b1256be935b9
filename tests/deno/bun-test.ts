/**
 * The part of `bun:test` our ORT binding tests use, on Deno's test runner (deno.json maps
 * `bun:test` here), so the same files run under both runtimes. describe() only prefixes names;
 * afterAll hooks run as a last test of their describe block.
 */
import { isDeepStrictEqual, inspect } from "node:util";

interface DenoTest {
  test(options: { name: string; fn: () => unknown; ignore?: boolean; sanitizeOps?: boolean; sanitizeResources?: boolean }): void;
}
const Deno = (globalThis as unknown as { Deno: DenoTest }).Deno;

const scopes: { name: string; afterAll: (() => unknown)[] }[] = [];

function fullName(name: string): string {
  return [...scopes.map((s) => s.name), name].join(" > ");
}

function register(name: string, fn: () => unknown, ignore = false): void {
  Deno.test({ name: fullName(name), fn, ignore, sanitizeOps: false, sanitizeResources: false });
}

type TestFn = (name: string, fn: () => unknown, timeout?: number) => void;

export const test: TestFn & { skipIf(condition: boolean): TestFn; skip: TestFn } = Object.assign(
  (name: string, fn: () => unknown) => register(name, fn),
  {
    skipIf: (condition: boolean) => (name: string, fn: () => unknown) => register(name, fn, condition),
    skip: (name: string, fn: () => unknown) => register(name, fn, true),
  },
);
export const it = test;

export function describe(name: string, body: () => void): void {
  const scope = { name, afterAll: [] as (() => unknown)[] };
  scopes.push(scope);
  try {
    body();
    if (scope.afterAll.length) {
      register("(afterAll)", async () => {
        for (const hook of scope.afterAll) await hook();
      });
    }
  } finally {
    scopes.pop();
  }
}

export function afterAll(hook: () => unknown): void {
  const scope = scopes.at(-1);
  if (!scope) throw new Error("afterAll outside describe() is not supported by the Deno shim");
  scope.afterAll.push(hook);
}

class AssertionError extends Error {
  override name = "AssertionError";
}

const show = (v: unknown) => inspect(v, { depth: 4, maxArrayLength: 16 });

type ErrorMatcher = string | RegExp | (new (...a: never[]) => Error) | undefined;

function thrownBy(fn: unknown): { threw: boolean; error: unknown } {
  try {
    (fn as () => unknown)();
    return { threw: false, error: undefined };
  } catch (error) {
    return { threw: true, error };
  }
}

function errorMatches(error: unknown, expected: ErrorMatcher): boolean {
  if (expected === undefined) return true;
  if (typeof expected === "function") return error instanceof expected;
  const message = error instanceof Error ? error.message : String(error);
  return typeof expected === "string" ? message.includes(expected) : expected.test(message);
}

function matchers(actual: unknown, negate: boolean) {
  const check = (pass: boolean, what: string) => {
    if (pass === negate) throw new AssertionError(`expected ${show(actual)} ${negate ? "not " : ""}${what}`);
  };
  return {
    toBe: (expected: unknown) => check(Object.is(actual, expected), `to be ${show(expected)}`),
    toEqual: (expected: unknown) => check(isDeepStrictEqual(actual, expected), `to equal ${show(expected)}`),
    toBeCloseTo: (expected: number, digits = 2) =>
      check(Math.abs((actual as number) - expected) < 10 ** -digits / 2, `to be within ${10 ** -digits / 2} of ${expected}`),
    toBeLessThan: (limit: number) => check((actual as number) < limit, `to be less than ${limit}`),
    toBeGreaterThan: (limit: number) => check((actual as number) > limit, `to be greater than ${limit}`),
    toBeInstanceOf: (type: new (...a: never[]) => unknown) => check(actual instanceof type, `to be an instance of ${type.name}`),
    toMatch: (pattern: string | RegExp) =>
      check(typeof pattern === "string" ? String(actual).includes(pattern) : pattern.test(String(actual)), `to match ${pattern}`),
    toThrow: (expected?: ErrorMatcher) => {
      const { threw, error } = thrownBy(actual);
      check(threw && errorMatches(error, expected), `to throw ${expected === undefined ? "" : show(expected)}${threw ? ` (threw ${show(error)})` : ""}`);
    },
  };
}

export function expect(actual: unknown) {
  return Object.assign(matchers(actual, false), { not: matchers(actual, true) });
}
