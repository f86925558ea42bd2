/**
 * serverless-esbuild plugins (serverless.yml `custom.esbuild.plugins`). CommonJS because the plugin
 * `require`s this file.
 *
 * zod-english-only: zod v4 re-exports ~40 locales (`z.locales.*`, about a quarter of each bundle's
 * size); Flywheel's messages are English, which zod registers by default from its own `en` module.
 * The locales index is replaced by one exporting `en` alone, so `z.locales.en` still works and any
 * other locale is absent (undefined) in the Lambda bundles. Local mode and tests use zod unchanged.
 */
'use strict';

const path = require('node:path');

const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /(^|\/)locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return {
        path: path.join(args.resolveDir, 'locales-en-only.js'),
        namespace: 'zod-english-only',
        pluginData: { resolveDir: path.join(args.resolveDir, '../locales') },
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
  },
};

module.exports = [zodEnglishOnly];
