// Writes buf/validate/validate.proto from the descriptor embedded in @bufbuild/protovalidate.
//
// Why: buf needs the source of validate.proto to compile our rules, and the usual source (the
// BSR module buf.build/bufbuild/protovalidate) needs the internet. The npm package that
// enforces the rules at run time embeds the exact descriptor, so printing it back gives a
// file whose messages, field numbers and extensions match the validator byte for byte.
// Options of validate.proto's own fields (its predefined CEL rules) are left out: compiling
// our rules does not need them, and the validator reads them from its embedded copy.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const MAX_FIELD_NUMBER = 536_870_911;

const scalarNames: Partial<Record<Type, string>> = {
  [Type.DOUBLE]: "double",
  [Type.FLOAT]: "float",
  [Type.INT64]: "int64",
  [Type.UINT64]: "uint64",
  [Type.INT32]: "int32",
  [Type.FIXED64]: "fixed64",
  [Type.FIXED32]: "fixed32",
  [Type.BOOL]: "bool",
  [Type.STRING]: "string",
  [Type.BYTES]: "bytes",
  [Type.UINT32]: "uint32",
  [Type.SFIXED32]: "sfixed32",
  [Type.SFIXED64]: "sfixed64",
  [Type.SINT32]: "sint32",
  [Type.SINT64]: "sint64",
};

function fieldType(f: FieldDescriptorProto): string {
  if (f.type === Type.MESSAGE || f.type === Type.ENUM || f.type === Type.GROUP) {
    return f.typeName;
  }
  const name = scalarNames[f.type];
  if (name === undefined) throw new Error(`unsupported field type ${f.type} on ${f.name}`);
  return name;
}

function fieldLine(f: FieldDescriptorProto, withLabel: boolean): string {
  const label = !withLabel
    ? ""
    : f.label === Label.REPEATED
      ? "repeated "
      : f.label === Label.REQUIRED
        ? "required "
        : "optional ";
  const opts: string[] = [];
  if (f.options && isFieldSet(f.options, FieldOptionsSchema.field.packed)) {
    opts.push(`packed = ${f.options.packed}`);
  }
  if (f.options?.deprecated) opts.push("deprecated = true");
  if (f.defaultValue) {
    opts.push(`default = ${f.type === Type.STRING ? JSON.stringify(f.defaultValue) : f.defaultValue}`);
  }
  const suffix = opts.length > 0 ? ` [${opts.join(", ")}]` : "";
  return `${label}${fieldType(f)} ${f.name} = ${f.number}${suffix};`;
}

function rangeText(start: number, endExclusive: number): string {
  const end = endExclusive - 1;
  if (end === start) return `${start}`;
  return `${start} to ${end >= MAX_FIELD_NUMBER ? "max" : end}`;
}

// proto2 descriptors report 0 for an unset oneof_index: ask for presence instead.
function oneofOf(f: FieldDescriptorProto): number | undefined {
  if (f.proto3Optional || !isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex)) return undefined;
  return f.oneofIndex;
}

function printEnum(e: EnumDescriptorProto, indent: string): string[] {
  const out = [`${indent}enum ${e.name} {`];
  for (const v of e.value) out.push(`${indent}  ${v.name} = ${v.number};`);
  out.push(`${indent}}`);
  return out;
}

function printMessage(m: DescriptorProto, indent: string): string[] {
  const out = [`${indent}message ${m.name} {`];
  const inner = `${indent}  `;
  for (const e of m.enumType) out.push(...printEnum(e, inner));
  for (const n of m.nestedType) out.push(...printMessage(n, inner));
  const oneofFields = new Map<number, FieldDescriptorProto[]>();
  for (const f of m.field) {
    const index = oneofOf(f);
    if (index !== undefined) oneofFields.set(index, [...(oneofFields.get(index) ?? []), f]);
  }
  const printedOneofs = new Set<number>();
  for (const f of m.field) {
    const index = oneofOf(f);
    if (index !== undefined) {
      if (printedOneofs.has(index)) continue;
      printedOneofs.add(index);
      out.push(`${inner}oneof ${m.oneofDecl[index]?.name} {`);
      for (const of of oneofFields.get(index) ?? []) out.push(`${inner}  ${fieldLine(of, false)}`);
      out.push(`${inner}}`);
    } else {
      out.push(`${inner}${fieldLine(f, true)}`);
    }
  }
  for (const r of m.extensionRange) out.push(`${inner}extensions ${rangeText(r.start, r.end)};`);
  if (m.reservedRange.length > 0) {
    out.push(`${inner}reserved ${m.reservedRange.map((r) => rangeText(r.start, r.end)).join(", ")};`);
  }
  if (m.reservedName.length > 0) {
    out.push(`${inner}reserved ${m.reservedName.map((n) => JSON.stringify(n)).join(", ")};`);
  }
  out.push(`${indent}}`);
  return out;
}

export function printValidateProto(): string {
  const file = file_buf_validate_validate.proto;
  if (file.syntax !== "" && file.syntax !== "proto2") {
    throw new Error(`expected a proto2 file, got syntax "${file.syntax}"`);
  }
  const out = [
    "// Code generated by proto/scripts/export-validate-proto.ts from @bufbuild/protovalidate.",
    "// DO NOT EDIT. Options of this file's own fields are omitted (see the script).",
    'syntax = "proto2";',
    "",
    `package ${file.package};`,
    "",
    ...file.dependency.map((d) => `import "${d}";`),
    "",
  ];
  for (const ext of groupExtensions(file.extension)) out.push(...ext, "");
  for (const e of file.enumType) out.push(...printEnum(e, ""), "");
  for (const m of file.messageType) out.push(...printMessage(m, ""), "");
  return `${out.join("\n").trimEnd()}\n`;
}

function groupExtensions(exts: FieldDescriptorProto[]): string[][] {
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const e of exts) byExtendee.set(e.extendee, [...(byExtendee.get(e.extendee) ?? []), e]);
  return [...byExtendee].map(([extendee, fields]) => [
    `extend ${extendee} {`,
    ...fields.map((f) => `  ${fieldLine(f, true)}`),
    "}",
  ]);
}

if (import.meta.main) {
  const target = join(import.meta.dirname, "..", "vendor", "buf", "validate", "validate.proto");
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, printValidateProto());
}
