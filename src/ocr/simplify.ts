import {
  decodeMessage,
  encodeMessage,
  type Field,
  floatField,
  messageField,
  readFloat,
  readIntegers,
  subfields,
  text,
  textField,
  varintField,
  Wire,
} from './protobuf.js';

// The PaddleOCR models as exported (paddle2onnx, opset 9) spend most of their time outside the
// convolutions: every convolution is followed by a learnt scale and shift (two passes over the
// feature map), hard-swish written as four operators (add 3, clip, multiply, divide by 6), and
// another learnt scale and shift: eight passes over memory for one convolution, which
// onnxruntime does not fuse. This rewrites the graph with the same arithmetic in fewer passes:
// - a scale or shift by one number right after a convolution goes into its weights and bias;
// - hard-swish becomes x · HardSigmoid(x) (one operator for add, clip and divide);
// - a scale by one number after x · HardSigmoid(x) goes into the convolution that makes x (the
//   HardSigmoid's slope divided by it, so that its result is unchanged);
// - a shift by one number before a convolution that does not pad goes into that convolution's
//   bias (with padding, the border would see the shift where the original saw zeros).
// Anything the rewrite does not recognise is left as it is.

interface GraphNode {
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Field[];
  /** The node's fields other than inputs, outputs, op type and attributes (name, doc string, domain). */
  rest: Field[];
  /** The node as read, written back unchanged unless `changed`. */
  original: Field;
  changed: boolean;
  dead: boolean;
}

interface Tensor {
  dims: number[];
  data: Float32Array;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_FLOAT = 1; // AttributeProto.AttributeType.FLOAT
const ATTRIBUTE_TENSOR = 4;

export interface Simplified {
  bytes: Uint8Array;
  /** Operators in the graph before and after (constants not counted). */
  operatorsBefore: number;
  operatorsAfter: number;
}

/** The model with its convolutions' scalar affine layers folded in and hard-swish in one operator. */
export function simplifyModel(model: Uint8Array): Simplified {
  const modelFields = decodeMessage(model);
  const graphIndex = modelFields.findIndex((f) => f.number === 7);
  if (graphIndex < 0) throw new Error('ONNX model without a graph');
  const graphFields = decodeMessage(modelFields[graphIndex].value as Uint8Array);
  const graph = new Graph(graphFields);
  const operatorsBefore = graph.operators();
  graph.simplify();
  const nodes = graph.encodeNodes();
  const firstNode = graphFields.findIndex((f) => f.number === 1);
  const rebuilt = [
    ...graphFields.slice(0, Math.max(0, firstNode)).filter((f) => f.number !== 1),
    ...nodes,
    ...graphFields.slice(Math.max(0, firstNode)).filter((f) => f.number !== 1),
  ];
  const out = [...modelFields];
  out[graphIndex] = messageField(7, rebuilt);
  return { bytes: encodeMessage(out), operatorsBefore, operatorsAfter: graph.operators() };
}

class Graph {
  private nodes: GraphNode[];
  private readonly graphOutputs: Set<string>;
  /** Constant tensors by name (Constant nodes' values), read on first use. */
  private readonly constants = new Map<string, Tensor | null>();
  /** Convolutions whose weights and bias were changed: their new values. */
  private readonly convolutions = new Map<GraphNode, { weights: Tensor; bias: Tensor }>();
  private readonly added: GraphNode[] = [];
  private fresh = 0;

  constructor(fields: Field[]) {
    this.nodes = fields.filter((f) => f.number === 1).map(readNode);
    this.graphOutputs = new Set(
      fields.filter((f) => f.number === 12).map((f) => text(decodeMessage(f.value as Uint8Array).find((v) => v.number === 1) as Field)),
    );
  }

  operators(): number {
    return this.nodes.filter((n) => !n.dead && n.op !== 'Constant').length;
  }

  simplify(): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const node of this.nodes) {
        if (node.dead || node.domain !== '') continue;
        let rewritten = false;
        if (node.op === 'Conv') rewritten = this.foldIntoConvolution(node);
        else if (node.op === 'Add') rewritten = this.hardSwish(node) || this.shiftBeforeConvolution(node);
        else if (node.op === 'HardSigmoid') rewritten = this.scaleAfterSwish(node);
        changed ||= rewritten;
      }
    }
    this.writeConvolutions();
    this.removeUnused();
  }

  /** Conv → Mul(k) or Add(k), k one number: into the weights (k·W, k·B) or the bias (B + k). */
  private foldIntoConvolution(conv: GraphNode): boolean {
    const next = this.onlyUser(conv.outputs[0]);
    if (!isOperator(next, 'Mul') && !isOperator(next, 'Add')) return false;
    const k = this.scalarOperand(next, conv.outputs[0]);
    const parameters = k === undefined ? undefined : this.convolution(conv);
    if (k === undefined || !parameters) return false;
    if (next.op === 'Mul') {
      scale(parameters.weights.data, k);
      scale(parameters.bias.data, k);
    } else shift(parameters.bias.data, k);
    this.bypass(next, conv);
    return true;
  }

  /** Add(x, 3) → Clip(0, 6) → Mul(x, ·) → Div(6): x · HardSigmoid(x) with slope 1/6 and offset 1/2. */
  private hardSwish(add: GraphNode): boolean {
    const x = add.inputs.find((name) => this.scalar(name) === undefined);
    if (x === undefined || this.scalarOperand(add, x) !== 3) return false;
    const clip = this.onlyUser(add.outputs[0]);
    if (!isOperator(clip, 'Clip') || clip.inputs.length !== 1) return false;
    if (floatAttribute(clip, 'min') !== 0 || floatAttribute(clip, 'max') !== 6) return false;
    const mul = this.onlyUser(clip.outputs[0]);
    if (!isOperator(mul, 'Mul') || !sameSet(mul.inputs, [x, clip.outputs[0]])) return false;
    const div = this.onlyUser(mul.outputs[0]);
    if (!isOperator(div, 'Div') || div.inputs[0] !== mul.outputs[0] || this.scalar(div.inputs[1]) !== 6) return false;
    if (!sameSet(this.users(x), [add, mul]) || this.graphOutputs.has(clip.outputs[0]) || this.graphOutputs.has(mul.outputs[0])) return false;
    add.op = 'HardSigmoid';
    add.attributes = [floatAttributeField('alpha', 1 / 6), floatAttributeField('beta', 0.5)];
    this.rewire(add, [x]);
    this.rewire(mul, [x, add.outputs[0]], div.outputs);
    clip.dead = true;
    div.dead = true;
    return true;
  }

  /** x · HardSigmoid(x) → Mul(k), x made by a convolution: k into the convolution, 1/k into the slope. */
  private scaleAfterSwish(hardSigmoid: GraphNode): boolean {
    const x = hardSigmoid.inputs[0];
    const product = this.users(hardSigmoid.outputs[0]);
    if (product.length !== 1 || product[0].op !== 'Mul' || !sameSet(product[0].inputs, [x, hardSigmoid.outputs[0]])) return false;
    const mul = product[0];
    const conv = this.producer(x);
    if (!isOperator(conv, 'Conv') || !sameSet(this.users(x), [hardSigmoid, mul]) || this.graphOutputs.has(x)) return false;
    const next = this.onlyUser(mul.outputs[0]);
    if (!isOperator(next, 'Mul')) return false;
    const k = this.scalarOperand(next, mul.outputs[0]);
    const alpha = floatAttribute(hardSigmoid, 'alpha');
    const parameters = k === undefined || k === 0 || alpha === undefined ? undefined : this.convolution(conv);
    if (k === undefined || alpha === undefined || !parameters) return false;
    scale(parameters.weights.data, k);
    scale(parameters.bias.data, k);
    hardSigmoid.attributes = hardSigmoid.attributes.map((a) => (attributeName(a) === 'alpha' ? floatAttributeField('alpha', alpha / k) : a));
    hardSigmoid.changed = true;
    this.bypass(next, mul);
    return true;
  }

  /** Add(y, k), k one number, read only by a convolution that does not pad: into its bias (B + k·ΣW). */
  private shiftBeforeConvolution(add: GraphNode): boolean {
    const y = add.inputs.find((name) => this.scalar(name) === undefined);
    const k = y === undefined ? undefined : this.scalarOperand(add, y);
    const conv = this.onlyUser(add.outputs[0]);
    if (y === undefined || k === undefined || !isOperator(conv, 'Conv') || conv.inputs[0] !== add.outputs[0]) return false;
    if (!paddingFree(conv)) return false;
    const parameters = this.convolution(conv);
    if (!parameters) return false;
    const { weights, bias } = parameters;
    const perOutput = weights.data.length / weights.dims[0];
    for (let o = 0; o < weights.dims[0]; o++) {
      let sum = 0;
      for (let i = o * perOutput; i < (o + 1) * perOutput; i++) sum += weights.data[i];
      bias.data[o] += k * sum;
    }
    this.rewire(conv, [y, ...conv.inputs.slice(1)]);
    add.dead = true;
    return true;
  }

  /** Remove `node` (one input from `from`, one output): `from` writes the node's output instead. */
  private bypass(node: GraphNode, from: GraphNode): void {
    this.rewire(from, undefined, [node.outputs[0]]);
    node.dead = true;
  }

  /** Change a node's inputs or outputs, keeping the index of readers and makers up to date. */
  private rewire(node: GraphNode, inputs?: string[], outputs?: string[]): void {
    const { readers, makers } = this.index();
    if (inputs) {
      for (const name of new Set(node.inputs)) readers.set(name, readers.get(name)?.filter((n) => n !== node) ?? []);
      node.inputs = inputs;
      for (const name of new Set(inputs)) readers.set(name, [...(readers.get(name) ?? []), node]);
    }
    if (outputs) {
      for (const name of node.outputs) if (makers.get(name) === node) makers.delete(name);
      node.outputs = outputs;
      for (const name of outputs) makers.set(name, node);
    }
    node.changed = true;
  }

  private users(name: string): GraphNode[] {
    return (
      this.index()
        .readers.get(name)
        ?.filter((n) => !n.dead) ?? []
    );
  }

  private indexed: { readers: Map<string, GraphNode[]>; makers: Map<string, GraphNode> } | undefined;

  /** Who reads and who makes each value (dead nodes are skipped when it is read). */
  private index(): { readers: Map<string, GraphNode[]>; makers: Map<string, GraphNode> } {
    if (this.indexed) return this.indexed;
    const readers = new Map<string, GraphNode[]>();
    const makers = new Map<string, GraphNode>();
    for (const node of this.nodes) {
      if (node.dead) continue;
      for (const name of new Set(node.inputs)) {
        const list = readers.get(name);
        if (list) list.push(node);
        else readers.set(name, [node]);
      }
      for (const name of node.outputs) makers.set(name, node);
    }
    this.indexed = { readers, makers };
    return this.indexed;
  }

  /** The one node reading `name`, when there is exactly one and `name` is not a graph output. */
  private onlyUser(name: string): GraphNode | undefined {
    const users = this.users(name);
    return users.length === 1 && !this.graphOutputs.has(name) ? users[0] : undefined;
  }

  private producer(name: string): GraphNode | undefined {
    const node = this.index().makers.get(name);
    return node && !node.dead ? node : undefined;
  }

  /** The other operand of a two-operand node, when it is a constant holding one number. */
  private scalarOperand(node: GraphNode, operand: string): number | undefined {
    if (node.inputs.length !== 2) return undefined;
    const [a, b] = node.inputs;
    if (a === operand && b !== operand) return this.scalar(b);
    if (b === operand && a !== operand) return this.scalar(a);
    return undefined;
  }

  private scalar(name: string): number | undefined {
    const tensor = this.constant(name);
    // Rank 0 or 1 only: a one-number tensor of higher rank would raise the rank of the result.
    return tensor && tensor.data.length === 1 && tensor.dims.length <= 1 && Number.isFinite(tensor.data[0]) ? tensor.data[0] : undefined;
  }

  private constant(name: string): Tensor | undefined {
    if (!this.constants.has(name)) {
      const node = this.producer(name);
      const value = node?.op === 'Constant' && node.domain === '' ? node.attributes.find((a) => attributeName(a) === 'value') : undefined;
      const tensor = value ? subfields(value).find((f) => f.number === 5) : undefined;
      this.constants.set(name, (tensor && readTensor(subfields(tensor))) ?? null);
    }
    return this.constants.get(name) ?? undefined;
  }

  /** A convolution's weights and bias (zeros when it has none), as values this rewrite may change. */
  private convolution(conv: GraphNode): { weights: Tensor; bias: Tensor } | undefined {
    const known = this.convolutions.get(conv);
    if (known) return known;
    const weights = this.constant(conv.inputs[1] ?? '');
    if (weights?.dims.length !== 4) return undefined;
    const bias = conv.inputs[2] ? this.constant(conv.inputs[2]) : { dims: [weights.dims[0]], data: new Float32Array(weights.dims[0]) };
    if (!bias || bias.data.length !== weights.dims[0]) return undefined;
    const parameters = {
      weights: { dims: weights.dims, data: weights.data.slice() },
      bias: { dims: [weights.dims[0]], data: bias.data.slice() },
    };
    this.convolutions.set(conv, parameters);
    return parameters;
  }

  /** Changed convolutions read new constants (the old ones may be shared, and are removed when no longer read). */
  private writeConvolutions(): void {
    for (const [conv, { weights, bias }] of this.convolutions) {
      if (conv.dead) continue;
      conv.inputs = [conv.inputs[0], this.addConstant(weights), this.addConstant(bias)];
      conv.changed = true;
    }
  }

  private addConstant(tensor: Tensor): string {
    const name = `docmark.folded.${this.fresh++}`;
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    const tensorFields = [
      ...tensor.dims.map((d) => varintField(1, d)),
      varintField(2, FLOAT),
      textField(8, name),
      { number: 9, wire: Wire.Bytes, value: bytes },
    ];
    const value = [textField(1, 'value'), messageField(5, tensorFields), varintField(20, ATTRIBUTE_TENSOR)];
    this.added.push({
      op: 'Constant',
      domain: '',
      inputs: [],
      outputs: [name],
      attributes: [messageField(5, value)],
      rest: [textField(3, name)],
      original: messageField(1, []),
      changed: true,
      dead: false,
    });
    return name;
  }

  private removeUnused(): void {
    for (let removed = true; removed; ) {
      removed = false;
      const read = new Set([...this.graphOutputs, ...this.nodes.filter((n) => !n.dead).flatMap((n) => n.inputs)]);
      for (const node of this.nodes) {
        if (!node.dead && node.outputs.every((o) => !read.has(o))) {
          node.dead = true;
          removed = true;
        }
      }
    }
  }

  encodeNodes(): Field[] {
    // New constants first: a graph's nodes are in an order where each input is made before it is read.
    return [...this.added, ...this.nodes].filter((n) => !n.dead).map((n) => (n.changed ? writeNode(n) : n.original));
  }
}

function readNode(field: Field): GraphNode {
  const fields = decodeMessage(field.value as Uint8Array);
  const op = fields.find((f) => f.number === 4);
  const domain = fields.find((f) => f.number === 7);
  return {
    op: op ? text(op) : '',
    domain: domain ? text(domain) : '',
    inputs: fields.filter((f) => f.number === 1).map(text),
    outputs: fields.filter((f) => f.number === 2).map(text),
    attributes: fields.filter((f) => f.number === 5),
    rest: fields.filter((f) => ![1, 2, 4, 5].includes(f.number)),
    original: field,
    changed: false,
    dead: false,
  };
}

function writeNode(node: GraphNode): Field {
  return messageField(1, [
    ...node.inputs.map((name) => textField(1, name)),
    ...node.outputs.map((name) => textField(2, name)),
    textField(4, node.op),
    ...node.attributes,
    ...node.rest,
  ]);
}

/** A float tensor's dims and values; undefined for other types and external data. */
function readTensor(fields: Field[]): Tensor | undefined {
  const type = fields.find((f) => f.number === 2);
  if (!type || Number(type.value) !== FLOAT) return undefined;
  const dims = readIntegers(fields, 1).map(Number);
  const count = dims.reduce((n, d) => n * d, 1);
  const raw = fields.find((f) => f.number === 9);
  let data: Float32Array;
  if (raw) {
    const source = raw.value as Uint8Array;
    if (source.length !== count * 4) return undefined;
    data = new Float32Array(count);
    new Uint8Array(data.buffer).set(source);
  } else {
    const values: number[] = [];
    for (const f of fields.filter((f) => f.number === 4)) {
      if (f.wire === Wire.Fixed32) values.push(readFloat(f));
      else if (f.wire === Wire.Bytes) {
        const packed = f.value as Uint8Array;
        const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
        for (let at = 0; at + 4 <= packed.length; at += 4) values.push(view.getFloat32(at, true));
      }
    }
    if (values.length !== count) return undefined;
    data = Float32Array.from(values);
  }
  return { dims, data };
}

function attributeName(attribute: Field): string {
  const name = subfields(attribute).find((f) => f.number === 1);
  return name ? text(name) : '';
}

function floatAttribute(node: GraphNode, name: string): number | undefined {
  for (const attribute of node.attributes) {
    const fields = subfields(attribute);
    const key = fields.find((f) => f.number === 1);
    const value = fields.find((f) => f.number === 2);
    if (key && text(key) === name) return value ? readFloat(value) : undefined;
  }
  return undefined;
}

function floatAttributeField(name: string, value: number): Field {
  return messageField(5, [textField(1, name), floatField(2, value), varintField(20, ATTRIBUTE_FLOAT)]);
}

/** No padding: explicit pads all zero (or none) and no automatic padding. */
function paddingFree(conv: GraphNode): boolean {
  for (const attribute of conv.attributes) {
    const fields = subfields(attribute);
    const key = fields.find((f) => f.number === 1);
    if (!key) continue;
    const name = text(key);
    if (name === 'pads' && readIntegers(fields, 8).some((p) => p !== 0n)) return false;
    if (name === 'auto_pad') {
      const value = fields.find((f) => f.number === 4);
      if (value && text(value) !== 'NOTSET' && text(value) !== 'VALID') return false;
    }
  }
  return true;
}

function shift(values: Float32Array, k: number): void {
  for (let i = 0; i < values.length; i++) values[i] += k;
}

function scale(values: Float32Array, k: number): void {
  for (let i = 0; i < values.length; i++) values[i] *= k;
}

function isOperator(node: GraphNode | undefined, op: string): node is GraphNode {
  return node !== undefined && node.op === op && node.domain === '';
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));
}
