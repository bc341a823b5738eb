import { start } from './app.js';

start(document.getElementById('app')!);
