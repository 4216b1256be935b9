import { describe, expect, test } from "bun:test";
import { LatentloomError } from "../../../pipelines/errors.ts";
import { BufferPool, OutOfDeviceMemory } from "../../../pipelines/runtime/buffer-pool.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

/** A device with `capacity` bytes: allocations past it fail as out of memory. */
function fakeDevice(capacity: number) {
  let nextId = 0;
  const device = {
    live: new Map<number, number>(),
    used: 0,
    allocations: 0,
    releases: 0,
    allocate(bytes: number) {
      if (device.used + bytes > capacity) throw new Error(`out of memory (${bytes} bytes)`);
      const buffer = { id: nextId++, bytes };
      device.live.set(buffer.id, bytes);
      device.used += bytes;
      device.allocations++;
      return buffer;
    },
    release(buffer: { id: number; bytes: number }, bytes: number) {
      expect(device.live.get(buffer.id)).toBe(bytes);
      device.live.delete(buffer.id);
      device.used -= bytes;
      device.releases++;
    },
  };
  const source = {
    device: "fake:0",
    allocate: device.allocate,
    release: device.release,
    isOutOfMemory: (e: unknown) => e instanceof Error && e.message.startsWith("out of memory"),
  };
  return { device, source };
}

describe("BufferPool", () => {
  test("a freed buffer comes back for the next allocation of its size, without the device", () => {
    const { device, source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    const a = pool.take(100);
    pool.give(a.storage, 100);
    const again = pool.take(100);
    expect(again).toEqual({ storage: a.storage, reused: true });
    expect(device.allocations).toBe(1);
    expect(pool.stats).toEqual({ reused: 1, allocated: 1, retries: 0, held: 0, heldBytes: 0 });
  });

  test("sizes are matched exactly", () => {
    const { device, source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    pool.give(pool.take(100).storage, 100);
    const other = pool.take(96);
    expect(other.reused).toBe(false);
    expect(device.allocations).toBe(2);
    expect(pool.stats.heldBytes).toBe(100);
  });

  test("hands out the first-allocated free buffer, whatever order they were freed in", () => {
    const { source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    const [a, b, c] = [pool.take(10), pool.take(10), pool.take(10)];
    for (const order of [[a, b, c], [c, a, b], [b, c, a]]) {
      for (const x of order) pool.give(x!.storage, 10);
      expect([pool.take(10).storage, pool.take(10).storage, pool.take(10).storage]).toEqual([a.storage, b.storage, c.storage]);
    }
  });

  test("out of memory: gives every pooled buffer back and tries once more", () => {
    const { device, source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    pool.give(pool.take(600).storage, 600);
    pool.give(pool.take(300).storage, 300);
    // 900 bytes pooled, so 500 more do not fit until the pool lets go.
    const big = pool.take(500);
    expect(big.reused).toBe(false);
    expect(device.used).toBe(500);
    expect(device.releases).toBe(2);
    expect(pool.stats).toMatchObject({ retries: 1, held: 0, heldBytes: 0 });
  });

  test("out of memory twice: an OutOfDeviceMemory that names the device, the size and what was freed", () => {
    const { source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    pool.give(pool.take(200).storage, 200);
    let error: unknown;
    try {
      pool.take(1500);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OutOfDeviceMemory);
    expect(error).toBeInstanceOf(LatentloomError);
    const e = error as OutOfDeviceMemory;
    expect([e.device, e.bytes, e.released]).toEqual(["fake:0", 1500, 200]);
    expect(e.message).toBe(
      "fake:0: out of memory allocating 1.5 KiB (1500 bytes), even after freeing 200 B of pooled buffers: out of memory (1500 bytes)",
    );
    expect(pool.stats.retries).toBe(1);
  });

  test("errors other than out of memory pass through, with no retry", () => {
    const { source } = fakeDevice(1000);
    const pool = new BufferPool({ ...source, allocate: () => { throw new TypeError("bad handle"); } });
    expect(() => pool.take(10)).toThrow(new TypeError("bad handle"));
    expect(pool.stats.retries).toBe(0);
  });

  test("over its limit, the least recently freed buffers go back first", () => {
    const { device, source } = fakeDevice(10_000);
    const pool = new BufferPool(source, 250);
    const [a, b, c] = [pool.take(100), pool.take(100), pool.take(100)];
    pool.give(b.storage, 100);
    pool.give(a.storage, 100);
    pool.give(c.storage, 100); // 300 > 250: b, freed first, goes
    expect(device.live.has((b.storage as { id: number }).id)).toBe(false);
    expect(pool.stats).toMatchObject({ held: 2, heldBytes: 200 });
    expect([pool.take(100).storage, pool.take(100).storage]).toEqual([a.storage, c.storage]);
  });

  test("trim gives everything back and says how much", () => {
    const { device, source } = fakeDevice(1000);
    const pool = new BufferPool(source);
    pool.give(pool.take(64).storage, 64);
    pool.give(pool.take(32).storage, 32);
    expect(pool.trim()).toBe(96);
    expect(device.used).toBe(0);
    expect(pool.stats).toMatchObject({ held: 0, heldBytes: 0 });
  });
});

describe("the CPU backend's pool", () => {
  test("reuses a freed buffer for the next tensor of its size, zeroed", () => {
    const cpu = new CpuBackend();
    const a = Tensor.from(cpu, "f32", [4], Float32Array.of(1, 2, 3, 4));
    const buffer = (a.storage as { buffer: ArrayBuffer }).buffer;
    a.dispose();
    const b = Tensor.empty(cpu, "f32", [2, 2]);
    expect((b.storage as { buffer: ArrayBuffer }).buffer).toBe(buffer);
    expect(Array.from(b.readF32())).toEqual([0, 0, 0, 0]);
    expect(cpu.poolStats).toMatchObject({ reused: 1, allocated: 1 });
  });

  test("an uninitialized tensor keeps what its reused buffer held (the proof it is reused)", () => {
    const cpu = new CpuBackend();
    Tensor.from(cpu, "i32", [3], Int32Array.of(7, 8, 9)).dispose();
    expect(Array.from(Tensor.uninitialized(cpu, "i32", [3]).read() as Int32Array)).toEqual([7, 8, 9]);
  });

  test("a second free of the same buffer does not put it in the pool twice", () => {
    const cpu = new CpuBackend();
    const storage = cpu.alloc(16);
    cpu.free(storage);
    cpu.free(storage);
    const first = cpu.alloc(16);
    const second = cpu.alloc(16);
    expect(first).not.toBe(second);
    expect((first as { buffer: ArrayBuffer }).buffer).not.toBe((second as { buffer: ArrayBuffer }).buffer);
  });

  test("an allocation the machine cannot hold is an OutOfDeviceMemory naming the size", () => {
    const cpu = new CpuBackend();
    cpu.free(cpu.alloc(1024));
    expect(() => cpu.alloc(2 ** 45)).toThrow(
      "cpu: out of memory allocating 32.0 TiB (35184372088832 bytes), even after freeing 1.0 KiB of pooled buffers: Out of memory",
    );
    expect(cpu.poolStats).toMatchObject({ retries: 1, held: 0 });
  });

  test("keeps at most its limit of freed memory", () => {
    const cpu = new CpuBackend({ poolLimitBytes: 1000 });
    for (let i = 0; i < 5; i++) cpu.free(cpu.alloc(400 + i));
    const { held, heldBytes } = cpu.poolStats;
    expect(heldBytes).toBeLessThanOrEqual(1000);
    expect([held, heldBytes]).toEqual([2, 403 + 404]);
    expect(cpu.trimPool()).toBe(807);
  });
});
