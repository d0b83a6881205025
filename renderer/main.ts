import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { EngineClient, createTransport, provideClient } from './api/index.js';
import './styles/theme.css';

provideClient(new EngineClient(createTransport()));
createApp(App).use(createPinia()).mount('#app');
