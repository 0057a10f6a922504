// The d2l-ts JupyterLab 4.6 application: the stock extensions, bundled with rspack (rspack.config.js),
// served by lab/d2l_lab under Debian's jupyter-server (see `d2l-ts lab`). The upstream
// examples/app pattern, plus one small plugin of our own (d2l:token-classes, below).
import { JupyterLab } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { classHighlighter, tags } from '@lezer/highlight';

// eslint-disable-next-line no-undef
__webpack_public_path__ = PageConfig.getOption('fullStaticUrl') + '/';

const styles = import('./build/style.js');

// Plugins that need a newer server than Debian's jupyter-server 1.23 (language servers, the news feed).
const DROP = [':language-server', '@jupyterlab/apputils-extension:announcements'];
// (a plain array is a module's plugins to lumino's registerPluginModules; a spread module object would not be)
const keep = m => (Array.isArray(m.default) ? m.default.filter(({ id }) => !DROP.some(d => id.includes(d))) : m);

// JupyterLab 4.6's highlight style has no rule for type names, so type annotations are neither
// coloured nor classed. classHighlighter gives every token a `tok-*` class (e.g. `tok-typeName`);
// the second style colours type names like variables-2.
const tokenClasses = {
  id: 'd2l:token-classes',
  description: 'Token classes (tok-*) and a colour for TypeScript type names in code editors.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (_app, registry) => {
    registry.addExtension({
      name: 'd2l:token-classes',
      factory: () =>
        EditorExtensionRegistry.createImmutableExtension([
          syntaxHighlighting(classHighlighter),
          syntaxHighlighting(HighlightStyle.define([{ tag: tags.typeName, color: 'var(--jp-mirror-editor-variable-2-color)' }]))
        ])
    });
  }
};

window.addEventListener('load', async () => {
  await styles;
  const exts = await Promise.all([
    import('@jupyterlab/application-extension'),
    import('@jupyterlab/apputils-extension'),
    import('@jupyterlab/codemirror-extension'),
    import('@jupyterlab/completer-extension'),
    import('@jupyterlab/console-extension'),
    import('@jupyterlab/docmanager-extension'),
    import('@jupyterlab/documentsearch-extension'),
    import('@jupyterlab/filebrowser-extension'),
    import('@jupyterlab/fileeditor-extension'),
    import('@jupyterlab/inspector-extension'),
    import('@jupyterlab/launcher-extension'),
    import('@jupyterlab/mainmenu-extension'),
    import('@jupyterlab/markedparser-extension'),
    import('@jupyterlab/mathjax-extension'),
    import('@jupyterlab/metadataform-extension'),
    import('@jupyterlab/notebook-extension'),
    import('@jupyterlab/rendermime-extension'),
    import('@jupyterlab/running-extension'),
    import('@jupyterlab/shortcuts-extension'),
    import('@jupyterlab/statusbar-extension'),
    import('@jupyterlab/theme-light-extension'),
    import('@jupyterlab/toc-extension'),
    import('@jupyterlab/tooltip-extension'),
    import('@jupyterlab/translation-extension'),
    import('@jupyterlab/ui-components-extension')
  ]);
  const mimeExtensions = await Promise.all([import('@jupyterlab/json-extension'), import('@jupyterlab/vega5-extension')]);
  const lab = new JupyterLab({ mimeExtensions });
  lab.registerPluginModules(exts.map(keep));
  lab.registerPlugin(tokenClasses);
  if (PageConfig.getOption('exposeAppInBrowser') === 'true') {
    window.jupyterapp = lab; // for the browser test (as galata does)
  }
  await lab.start();
  await lab.restored;
});
