/**
 * The shapes ONNX Runtime infers for inner tensors of a graph, as it sees them inside the whole
 * model: rank, the static dimensions, and symbolic names where they carry through (batch_size,
 * height …).
 *
 *   const shapes = inferShapes(model, ["/conv_in/Conv_output_0"]);   // [batch_size, 32, ?, ?]
 *
 * Graph cutting declares these on the segments' inputs and outputs. Without them a segment's
 * graph starts from tensors of unknown rank, so ORT optimises it less than the same nodes inside
 * the whole model (Slices where the whole model has a Split, MatMul + Add where it has a Gemm);
 * with them it sees what the whole model sees, runs as fast and gives the same bits.
 *
 * How: the model is loaded once with the tensors added as graph outputs and optimisation off,
 * and ORT reports each output's inferred type. Weights are not loaded: float initializers in
 * external data or of more than a few values become graph inputs of the same type and shape
 * (small inline ones, which may feed shape computations, stay).
 */
import { onnx } from "onnx-proto";
import { Session } from "../../ffi/ort/index.ts";
import { GraphIndex } from "./graph-index.ts";

/** A tensor type as ORT inferred it: -1 and "" where a dimension is unknown. */
export interface InferredShape {
  readonly elemType: number;
  readonly dims: readonly number[];
  /** Symbolic name per dimension, "" where it has none. */
  readonly dimNames: readonly string[];
}

/** Initializers up to this many elements stay in the probe (shape constants, scales). */
const KEEP_INITIALIZER_ELEMENTS = 64;

const FLOAT_TYPES = new Set([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.BFLOAT16, onnx.TensorProto.DataType.DOUBLE]);

/**
 * ORT's inferred shape of each of `tensors` (computed tensors of `model`'s graph);
 * `externalDataDir` is where the model's external-data files are. Returns an empty map when
 * ORT cannot load the probe (then callers go on without shapes, as before).
 */
export function inferShapes(model: onnx.IModelProto, tensors: readonly string[], externalDataDir?: string): Map<string, InferredShape> {
  const graph = model.graph ?? {};
  const ix = new GraphIndex(graph);
  const declaredOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const wanted = [...new Set(tensors)].filter((t) => ix.producer.has(t) && !declaredOutputs.has(t));
  const extraOutputs: onnx.IValueInfoProto[] = [];
  for (const name of wanted) {
    const elemType = ix.elemType(name);
    if (elemType) extraOutputs.push({ name, type: { tensorType: { elemType } } });
  }
  const inputNames = new Set((graph.input ?? []).map((i) => i.name));
  const kept: onnx.ITensorProto[] = [];
  const asInputs: onnx.IValueInfoProto[] = [];
  for (const t of graph.initializer ?? []) {
    const count = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
    if (FLOAT_TYPES.has(t.dataType ?? 0) && (count > KEEP_INITIALIZER_ELEMENTS || external)) {
      if (!inputNames.has(t.name)) {
        asInputs.push({ name: t.name, type: { tensorType: { elemType: t.dataType, shape: { dim: (t.dims ?? []).map((d) => ({ dimValue: d })) } } } });
      }
    } else kept.push(t);
  }
  const probe = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...graph,
      initializer: kept,
      input: [...(graph.input ?? []), ...asInputs],
      output: [...(graph.output ?? []), ...extraOutputs],
    }),
  });
  const shapes = new Map<string, InferredShape>();
  let session: Session;
  try {
    session = Session.create(onnx.ModelProto.encode(probe).finish(), {
      graphOptimization: "disable",
      intraOpThreads: 1,
      ...(externalDataDir === undefined ? {} : { externalDataDir }),
    });
  } catch {
    return shapes;
  }
  try {
    const elemTypes = new Map(extraOutputs.map((o) => [o.name!, o.type!.tensorType!.elemType!]));
    for (const out of session.outputs) {
      const elemType = elemTypes.get(out.name);
      // No dimensions reads the same for a scalar and for an unknown rank: declare nothing then.
      if (elemType !== undefined && out.dims.length > 0) shapes.set(out.name, { elemType, dims: out.dims, dimNames: out.dimNames });
    }
  } finally {
    session.dispose();
  }
  return shapes;
}

/** The ValueInfo for `name` with an inferred shape. */
export function shapedValueInfo(name: string, shape: InferredShape): onnx.IValueInfoProto {
  const dim = shape.dims.map((d, i): onnx.TensorShapeProto.IDimension => {
    if (d >= 0) return { dimValue: d };
    const param = shape.dimNames[i];
    return param ? { dimParam: param } : {};
  });
  return { name, type: { tensorType: { elemType: shape.elemType, shape: { dim } } } };
}
