#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { APP_PROPS, createApp } from '../lib/app';
import { configPathFrom, synthOrExit } from '../lib/config/cli';
import { loadConfigFile } from '../lib/config/load';

const app = new App(APP_PROPS);
synthOrExit(app, () => createApp(app, loadConfigFile(configPathFrom(app))));
