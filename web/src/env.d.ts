// esbuild bundles the stylesheet; the type checker only needs to know the import exists.
declare module "*.css";
