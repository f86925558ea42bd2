// Types of build-cli.mjs (plain JavaScript so bin.mjs loads it without a TypeScript loader).
import type { LogLevel } from 'esbuild';

export declare const REPO_DIR: string;
export declare const CLI_SOURCE: string;
export declare const DEFAULT_OUT_DIR: string;
/** A bundled file as the stamp records it. */
export type InputStamp = [file: string, mtimeMs: number, size: number];
export interface Stamp {
  format: number;
  /** The checkout built (input names in messages are relative to it). */
  root: string;
  build: string;
  entry: string;
  inputs: InputStamp[];
}
/** The current build's entry file, or why there is none to run; `root` is the checkout it must have been built from. */
export declare function checkCli(outDir?: string, root?: string): { entry: string } | { stale: string };
/** Builds the CLI into `outDir` and writes its stamp. */
export declare function buildCli(options?: {
  outDir?: string;
  logLevel?: LogLevel;
  esbuild?: typeof import('esbuild');
}): Promise<{ entry: string; build: string; inputs: number; ms: number }>;
/** The URL of the current build, built first when missing or stale; undefined → load the sources through tsx. */
export declare function cliEntry(outDir?: string): Promise<string | undefined>;
