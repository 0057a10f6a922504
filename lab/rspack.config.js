// rspack config for the d2l-ts JupyterLab app: JupyterLab's examples/app/rspack.config.js (v4.6.3),
// with `fullySpecified: false` for .mjs/.js (@jupyter/web-components imports without extensions)
// and a production build without source maps. Copyright (c) Jupyter Development Team (BSD-3-Clause).
const data = require('./package.json');
const rspack = require('@rspack/core');
const Build = require('@jupyter/builder').Build;
const miniSVGDataURI = require('mini-svg-data-uri');

// Generate rspack config to copy extension assets to the build directory,
// such as setting schema files, theme assets, etc.
const extensionAssetConfig = Build.ensureAssets({
  packageNames: data.jupyterlab.extensions,
  output: './build'
});

module.exports = [
  {
    entry: ['./index.js'],
    output: {
      path: __dirname + '/build',
      filename: 'bundle.js'
    },
    bail: true,
    // A 12 MB app is expected; mathjax's loader mentions __dirname in a branch that never runs in a browser.
    performance: { hints: false },
    ignoreWarnings: [/"__dirname" is used/],
    devtool: false,
    mode: 'production',
    module: {
      rules: [
        { test: /\.m?js$/, resolve: { fullySpecified: false } },
        { test: /\.css$/, use: ['style-loader', 'css-loader'] },
        { test: /\.raw\.css$/, type: 'asset/source' },
        { test: /\.html$/, type: 'asset/resource' },
        { test: /\.md$/, type: 'asset/source' },
        { test: /\.(jpg|png|gif)$/, type: 'asset/resource' },
        { test: /\.js.map$/, type: 'asset/resource' },
        {
          test: /\.woff2(\?v=\d+\.\d+\.\d+)?$/,
          type: 'asset'
        },
        {
          test: /\.woff(\?v=\d+\.\d+\.\d+)?$/,
          type: 'asset'
        },
        {
          test: /\.ttf(\?v=\d+\.\d+\.\d+)?$/,
          type: 'asset'
        },
        { test: /\.eot(\?v=\d+\.\d+\.\d+)?$/, type: 'asset/resource' },
        {
          // In .css files, svg is loaded as a data URI.
          test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
          issuer: /\.css$/,
          type: 'asset/inline',
          generator: {
            dataUrl: {
              content: content => miniSVGDataURI(content.content),
              mimetype: 'image/svg+xml'
            }
          }
        },
        {
          // In .ts and .tsx files (both of which compile to .js), svg files
          // must be loaded as a raw string instead of data URIs.
          test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
          issuer: /\.js$/,
          type: 'asset/source'
        }
      ]
    },
    plugins: [
      new rspack.DefinePlugin({
        // Needed for various packages using cwd(), like the path polyfill
        process: { cwd: () => '/', env: {} }
      })
    ]
  }
].concat(extensionAssetConfig);
