/**
 * Reads a shell command line with mvdan/sh's bash parser (the parser behind shfmt, in its JavaScript
 * build `mvdan-sh`) and reduces it to facts the guard judges: every simple command anywhere in the line
 * (in pipelines, lists, substitutions, functions, loops), every redirection, and every construct whose
 * effect the text does not show. Words are unquoted the way bash does; any expansion inside a word is
 * kept as a COMPUTED mark, never guessed.
 *
 * Why this parser: it follows bash's grammar closely (heredocs on the same line, nested backquotes,
 * line continuations, ANSI-C strings), where tree-sitter-bash silently splits or drops commands;
 * sh-syntax (the maintained WebAssembly build of the same parser) serializes commands as positions
 * only. mvdan-sh is pinned and no longer updated upstream; it is loaded on first use, and any error it
 * throws is a refusal (see guard-shell.ts).
 */
import { COMPUTED } from './guard-hosts';

/** A word after quote removal. `text` has COMPUTED where an expansion will be substituted. */
export interface ShellWord {
  readonly text: string;
  /** Contains an expansion ($x, $(…), `…`, $((…)), <(…)) or an ANSI-C string with escapes. */
  readonly computed: boolean;
  /** Unquoted glob, brace or tilde characters: bash may turn it into other words. */
  readonly pattern: boolean;
}

export interface ShellCall {
  readonly words: ShellWord[];
  readonly assigns: { readonly name: string; readonly value?: ShellWord }[];
}

export interface ShellRedirect {
  readonly op: string;
  readonly target: ShellWord;
}

export interface ShellFacts {
  readonly calls: ShellCall[];
  readonly redirects: ShellRedirect[];
  /** Constructs that can run code the text does not show, each with the reason. */
  readonly opaque: string[];
}

export class ShellSyntaxError extends Error {}

/** Longest first: the operator at a redirect's position in the source. */
const REDIRECT_OPS = ['&>>', '<<<', '<<-', '&>', '>>', '>&', '>|', '<<', '<>', '<&', '>', '<'];
const MAX_COMMAND_BYTES = 64 * 1024;

/* eslint-disable @typescript-eslint/no-explicit-any -- mvdan-sh ships no types */
type Node = any; // mvdan-sh's AST objects (GopherJS): typed by syntax.NodeType, nil pointers are null
let syntaxModule: { syntax: any } | undefined;

function syntax(): any {
  /* eslint-enable @typescript-eslint/no-explicit-any */
  if (!syntaxModule) {
    // GopherJS sets two globals when it loads; put them back so the supervisor is unaffected.
    const limit = Error.stackTraceLimit;
    const g = globalThis as { require?: unknown };
    const hadRequire = 'require' in g;
    const previous = g.require;
    // Loaded on first use, at run time from the copy beside the bundle (the bundle keeps it external).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    syntaxModule = require('mvdan-sh');
    Error.stackTraceLimit = limit;
    if (hadRequire) g.require = previous;
    else delete g.require;
  }
  return syntaxModule!.syntax;
}

/** Loads the parser ahead of the first tool call (about 0.4 s of start-up work). */
export function warmShellParser(): void {
  syntax();
}

export function parseShell(command: string): ShellFacts {
  const source = Buffer.from(command, 'utf8');
  if (source.length > MAX_COMMAND_BYTES)
    throw new ShellSyntaxError(`the command is longer than ${MAX_COMMAND_BYTES} bytes`);
  const sh = syntax();
  let file: Node;
  try {
    file = sh.NewParser(sh.Variant(sh.LangBash)).Parse(command, 'command');
  } catch (error) {
    const message =
      error && typeof (error as Node).Error === 'function'
        ? (error as Node).Error()
        : String((error as Error)?.message ?? error);
    throw new ShellSyntaxError(`bash would not run it as written (${String(message).replace(/^command:/, 'at ')})`);
  }
  const facts = { calls: [] as ShellCall[], redirects: [] as ShellRedirect[], opaque: [] as string[] };
  const slice = (node: Node) => source.subarray(node.Pos().Offset(), node.End().Offset()).toString('utf8');
  const opaque = (reason: string) => facts.opaque.includes(reason) || facts.opaque.push(reason);
  const arithmetic = (node: Node | null) => {
    if (node && /[A-Za-z_$]/.test(slice(node)))
      opaque('arithmetic on variables can run commands (bash evaluates array subscripts in them)');
  };

  sh.Walk(file, (node: Node) => {
    if (!node) return true;
    switch (sh.NodeType(node)) {
      case 'CallExpr':
        facts.calls.push({
          words: arrayOf(node.Args).map(wordOf),
          assigns: arrayOf(node.Assigns).map((a: Node) => {
            if (a.Index) arithmetic(a.Index);
            if (a.Array) opaque('array assignments are evaluated when they run');
            return { name: a.Name ? String(a.Name.Value) : '', ...(a.Value ? { value: wordOf(a.Value) } : {}) };
          }),
        });
        break;
      case 'Stmt':
        for (const r of arrayOf(node.Redirs)) {
          const at = r.OpPos.Offset();
          const op = REDIRECT_OPS.find((o) => source.subarray(at, at + o.length).toString() === o);
          if (!op) throw new ShellSyntaxError(`unreadable redirection at byte ${at}`);
          facts.redirects.push({ op, target: wordOf(r.Word) });
        }
        if (node.Coprocess) opaque('a coprocess runs in the background');
        break;
      case 'ParamExp': {
        if (node.Excl) opaque('${!name} reads a variable named by another one, which can run commands');
        if (/@[PAEKkaQUuL]\}$/.test(slice(node))) opaque('${name@…} transformations can run commands');
        if (node.Index) {
          const index = slice(node.Index);
          if (index !== '@' && index !== '*') arithmetic(node.Index);
        }
        if (node.Slice) {
          arithmetic(node.Slice.Offset);
          arithmetic(node.Slice.Length);
        }
        break;
      }
      case 'ArithmExp':
      case 'ArithmCmd':
      case 'LetClause':
      case 'CStyleLoop':
        arithmetic(node);
        break;
      case 'TestClause':
        if (/(^|\s)-(v|R|eq|ne|lt|le|gt|ge)(\s|$)/.test(slice(node)))
          opaque('[[ … ]] with -v or a numeric comparison evaluates its operands as code');
        break;
      case 'DeclClause':
        opaque(`${node.Variant ? node.Variant.Value : 'declare'} changes variables that later commands run with`);
        break;
      case 'CoprocClause':
        opaque('a coprocess runs in the background');
        break;
      case 'TestDecl':
        opaque('a test declaration');
        break;
    }
    return true;
  });
  return facts;
}

function arrayOf(value: unknown): Node[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new ShellSyntaxError('the parser returned an unexpected tree');
  return value;
}

/** Quote removal as bash does it; expansions become COMPUTED. */
function wordOf(word: Node): ShellWord {
  const sh = syntax();
  let text = '';
  let computed = false;
  let pattern = false;
  const parts = arrayOf(word.Parts);
  parts.forEach((part: Node, i: number) => {
    switch (sh.NodeType(part)) {
      case 'Lit': {
        const lit = unescapeUnquoted(String(part.Value), i === 0);
        text += lit.text;
        pattern ||= lit.pattern;
        break;
      }
      case 'SglQuoted':
        if (part.Dollar && String(part.Value).includes('\\')) {
          text += COMPUTED;
          computed = true;
        } else text += String(part.Value);
        break;
      case 'DblQuoted':
        for (const inner of arrayOf(part.Parts)) {
          if (sh.NodeType(inner) === 'Lit')
            text += String(inner.Value).replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
          else {
            text += COMPUTED;
            computed = true;
          }
        }
        break;
      case 'ExtGlob':
        text += COMPUTED;
        pattern = true;
        break;
      default: // ParamExp, CmdSubst, ArithmExp, ProcSubst
        text += COMPUTED;
        computed = true;
    }
  });
  return { text, computed, pattern };
}

/** Backslash escapes outside quotes; reports unescaped glob (`*?[`), brace (`{`) and leading `~`. */
function unescapeUnquoted(value: string, wordStart: boolean): { text: string; pattern: boolean } {
  let text = '';
  let pattern = wordStart && value.startsWith('~');
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i];
    if (c === '\\') {
      const next = value[i + 1];
      i += 1;
      if (next !== undefined && next !== '\n') text += next;
      continue;
    }
    // `[` and `{` expand only when closed later in the word (`[` alone is the test command).
    if (c === '*' || c === '?' || (c === '[' && value.includes(']', i)) || (c === '{' && value.includes('}', i)))
      pattern = true;
    text += c;
  }
  return { text, pattern };
}
