/** Types of build-electron.mjs, for the tests that build into a scratch folder. */
export declare const ENGINE_EXTERNALS: string[];
export declare function buildElectron(options?: { outdir?: string; quiet?: boolean }): Promise<string>;
export declare function checkEngineDependencies(metafile: {
  inputs: Record<string, unknown>;
  outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
}): void;
